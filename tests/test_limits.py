"""Bounds on inputs: the shard guard every runner shares (:func:`shard_position`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roma_bench.budgets import run_plan
from roma_bench.limits import shard_position
from roma_bench.results import board_entries
from roma_bench.studies.common import study_files
from roma_bench.studies.resume import StudyTraining, train_missing


def test_shard_position_is_zero_based():
    assert shard_position((1, 1)) == (0, 1)
    assert shard_position((3, 4)) == (2, 4)


def _must_not_run(*_args):
    raise AssertionError("a runner trained something for a bad shard")


@pytest.mark.parametrize("shard", [(0, 2), (3, 2), (1, 0)])
def test_every_runner_refuses_a_bad_shard_before_any_work(shard, tmp_path: Path):
    """Board, budget check and study refuse shard ``i/n`` outside ``1 ≤ i ≤ n`` with the
    same message, before reading or writing a file or training anything."""
    message = rf"shard {shard[0]}/{shard[1]}: expected 1 ≤ i ≤ n"
    with pytest.raises(ValueError, match=message):
        shard_position(shard)
    with pytest.raises(ValueError, match=message):
        board_entries(["gcn"], ["tiny"], 1, shard)
    with pytest.raises(ValueError, match=message):
        run_plan([], _must_not_run, _must_not_run, shard=shard)
    files = study_files("noise", "km-tiny", tmp_path)
    training = StudyTraining("noise", _must_not_run, None, None, shard=shard)
    with pytest.raises(ValueError, match=message):
        train_missing([], ["model"], files, "roma-bench study noise", training)
    assert not any(tmp_path.iterdir())
