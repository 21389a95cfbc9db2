"""Shards of a study: processes started with ``--shard i/n`` split the runs and share the CSV.

Each shard trains its part of the plan, merges its rows into the CSV under the file lock (so
a row another shard wrote meanwhile is kept), and only the shard that finishes the study
writes the plot and summary (recording trainer, no real training).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from study_doubles import RecordingTrainer, pde_scores, run_ids, run_study

from roma_bench.cli import main
from roma_bench.studies.common import current_command, read_csv
from roma_bench.studies.resume import shard_owners

STUDIES = ("transfer", "scaling", "noise")


def keys(study: str, csv: Path) -> set[tuple]:
    """What identifies each row of ``csv``: (model, seed, the study's setting)."""
    setting = {"transfer": "arm", "scaling": "width_factor", "noise": "sigma"}[study]
    return {(r["model"], r["seed"], r[setting]) for r in read_csv(csv).to_dict("records")}


@pytest.mark.parametrize("study", STUDIES)
def test_two_shards_train_each_run_once_and_the_last_writes_the_outputs(
    study: str, tmp_path: Path, tracking: str
) -> None:
    whole = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="whole")
    _, reference = run_study(study, whole, tmp_path / "whole", tracking)

    first = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="first")
    rows, csv = run_study(study, first, tmp_path, tracking, shard=(1, 2))
    assert len(first.calls) == 2 and rows.waiting == 2
    assert list(read_csv(csv)["status"]) == ["ok", "ok"]  # its rows are written at once
    assert not csv.with_suffix(".md").exists() and not csv.with_suffix(".png").exists()

    second = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="second")
    rows, csv = run_study(study, second, tmp_path, tracking, shard=(2, 2))
    assert len(second.calls) == 2 and rows.waiting == 0
    trained = [c.model_dump() for c in first.configs + second.configs]
    assert sorted(map(str, trained)) == sorted(str(c.model_dump()) for c in whole.configs)
    assert keys(study, csv) == keys(study, reference) and len(read_csv(csv)) == 4
    assert set(read_csv(csv)["status"]) == {"ok"}
    assert csv.with_suffix(".md").is_file() and csv.with_suffix(".png").is_file()
    assert sorted(run_ids(study, rows)) == ["first1", "first2", "second1", "second2"]


@pytest.mark.parametrize("study", ["scaling", "noise"])
def test_a_shard_keeps_the_rows_another_shard_wrote_while_it_trained(
    study: str, tmp_path: Path, tracking: str
) -> None:
    """Shard 2 runs whole (in a thread: its own MLflow run stack) while shard 1 trains its
    first run, as two processes would interleave: shard 1's later writes merge shard 2's
    rows instead of dropping them."""
    errors: list[BaseException] = []

    def shard_two() -> None:
        try:
            run_study(study, second, tmp_path, tracking, shard=(2, 2))
        except BaseException as err:
            errors.append(err)

    def run_the_other_shard_meanwhile(config) -> float:
        if len(first.calls) == 1:
            other = threading.Thread(target=shard_two)
            other.start()
            other.join()
        return 1.0 + config.seed

    second = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="second")
    first = RecordingTrainer(tmp_path, run_the_other_shard_meanwhile, pde_scores, name="first")
    rows, csv = run_study(study, first, tmp_path, tracking, shard=(1, 2))
    assert errors == []
    assert len(first.calls) == 2 and len(second.calls) == 2
    assert rows.waiting == 0  # shard 1 finished last: the study is whole
    assert sorted(run_ids(study, rows)) == ["first1", "first2", "second1", "second2"]
    assert sorted(map(str, read_csv(csv)["run_id"])) == ["first1", "first2", "second1", "second2"]
    assert csv.with_suffix(".md").is_file()


def test_runs_of_one_training_command_share_a_shard() -> None:
    assert shard_owners(["a", "b", "c", "d"], 2) == [0, 1, 0, 1]
    assert shard_owners(["a", "b", "a", None, None], 2) == [0, 1, 0, 1, 0]
    assert shard_owners(["a", "b", "c"], 1) == [0, 0, 0]


def test_the_shard_is_not_recorded_in_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    for shard in (["--shard", "2/3"], ["--shard=2/3"]):
        argv = ["/x/bin/roma-bench", "study", "noise", "--task", "km-tiny", *shard, "--seeds", "0"]
        monkeypatch.setattr("sys.argv", argv)
        assert current_command() == "roma-bench study noise --task km-tiny --seeds 0"


def test_the_cli_passes_the_shard_and_says_who_writes_the_outputs(
    tmp_path: Path, tracking: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    trainer = RecordingTrainer(tmp_path, lambda c: 1.0, pde_scores)
    monkeypatch.setattr("roma_bench.training.runs.train", trainer)
    argv = ["study", "noise", "--task", "km-tiny", "--models", "gcn", "--sigmas", "0,0.01",
            "--seeds", "0", "--steps", "5", "--out-dir", str(tmp_path), "--tracking-uri",
            tracking, "--shard", "2/2"]  # fmt: skip
    assert main(argv) == 0
    assert [c.noise for c in trainer.configs] == [0.01]
    assert "1 runs of other shards are not finished" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*argv[:-1], "3/2"])
    assert "1 ≤ i ≤ n" in capsys.readouterr().err
