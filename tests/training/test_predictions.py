"""evaluate_predictions: predictions made outside the harness score exactly as the boards do."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch

from roma_bench import evaluate_predictions, save_predictions
from roma_bench.cli import main
from roma_bench.predictions import EvaluationError, evaluate_predictions_file


@pytest.fixture(scope="module")
def headroom(km_tiny_store):
    """The board's floor rows of km-tiny's test split (the harness's own scoring)."""
    from roma_bench.training.headroom import floor_scores

    return floor_scores("km-tiny", "test", ("persistence", "ar"), data_path=km_tiny_store)


def _close(got: dict[str, float], want: dict[str, float]) -> None:
    assert set(got) == set(want)
    for name, value in want.items():
        assert math.isclose(got[name], value, rel_tol=1e-6, abs_tol=1e-12), (name, got[name], value)


def _stored(path):
    """Windows, split nodes, the field rows of those nodes and the card's rollout, via h5py."""
    with h5py.File(path, "r") as f:
        starts, nodes = f["windows/test"][:], f["split/test"][:]
        field = f["field"][np.sort(nodes)][np.searchsorted(np.sort(nodes), nodes)]
        rollout = json.loads(f.attrs["card"])["window"]["rollout"]
    return starts, field, rollout


def test_persistence_from_plain_h5py_reproduces_the_board(km_tiny_store, headroom) -> None:
    starts, field, rollout = _stored(km_tiny_store)
    last = field[:, starts].T  # [W, n]: x_t0 of every window
    predictions = np.repeat(last[:, :, None], rollout, axis=2)
    _close(evaluate_predictions(km_tiny_store, "test", predictions), headroom.scores["persistence"])


def test_ar_predictions_in_a_file_reproduce_the_board(km_tiny_store, headroom, tmp_path) -> None:
    from roma_bench.cards import load_card
    from roma_bench.data.datasets import EvalWindows
    from roma_bench.data.spec import task_spec
    from roma_bench.registry import build_model
    from roma_bench.training.evaluate import rollout

    windows = EvalWindows(km_tiny_store, "test").batches()
    spec = task_spec(load_card("km-tiny"), "forecast", str(km_tiny_store))
    ar = build_model("ar", spec, "tiny").eval()
    frames = windows[0].future.shape[1]
    array = torch.stack([rollout(ar, b, frames) for b in windows]).numpy()
    path = tmp_path / "ar.h5"
    with h5py.File(path, "w") as f:  # written with plain h5py, as a user would
        f["predictions"] = array
        with h5py.File(km_tiny_store, "r") as store:
            f.attrs.update(task="km-tiny", split="test", data_checksum=store.attrs["data_checksum"])
    scores, _ = evaluate_predictions_file(path, km_tiny_store, "test")
    _close(scores, headroom.scores["ar"])


def test_wrong_predictions_are_refused_naming_what_was_expected(km_tiny_store) -> None:
    starts, field, rollout = _stored(km_tiny_store)
    W, n = len(starts), field.shape[0]
    good = np.zeros((W, n, rollout), dtype=np.float32)
    shape = rf"predictions have shape \[{W}, {n}, {rollout - 1}\], expected \[{W}, {n}, {rollout}\]"
    with pytest.raises(EvaluationError, match=shape + rf".*the {W} windows of /windows/test"):
        evaluate_predictions(km_tiny_store, "test", good[:, :, :-1])
    with pytest.raises(EvaluationError, match=rf"shape \[{n}, {rollout}\], expected \[{W}"):
        evaluate_predictions(km_tiny_store, "test", good[0])
    bad = good.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(EvaluationError, match=r"1 non-finite value\(s\).*\[1, 2, 3\]"):
        evaluate_predictions(km_tiny_store, "test", bad)
    with pytest.raises(EvaluationError, match="dtype int64, expected a float dtype"):
        evaluate_predictions(km_tiny_store, "test", good.astype(np.int64))
    with pytest.raises(EvaluationError, match="must be a numpy array or torch tensor, got list"):
        evaluate_predictions(km_tiny_store, "test", good.tolist())
    with pytest.raises(EvaluationError, match="split 'train': expected 'val' or 'test'"):
        evaluate_predictions(km_tiny_store, "train", good)


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_files_made_for_other_data_are_refused(km_tiny_store, tmp_path, suffix) -> None:
    starts, field, rollout = _stored(km_tiny_store)
    last = field[:, starts].T
    path = save_predictions(
        tmp_path / f"p{suffix}", km_tiny_store, "test", np.repeat(last[:, :, None], rollout, 2)
    )
    evaluate_predictions_file(path, km_tiny_store, "test")  # accepted as written
    with pytest.raises(EvaluationError, match=r"made for split 'test', but evaluating split 'val'"):
        evaluate_predictions_file(path, km_tiny_store, "val")
    if suffix == ".h5":
        with h5py.File(path, "a") as f:
            f.attrs["data_checksum"] = "0" * 16
        with pytest.raises(EvaluationError, match=r"made for data_checksum '0000000000000000'"):
            evaluate_predictions_file(path, km_tiny_store, "test")
        with h5py.File(path, "a") as f:
            del f.attrs["task"]
        with pytest.raises(EvaluationError, match="missing task; a predictions file carries"):
            evaluate_predictions_file(path, km_tiny_store, "test")


def test_cli_prints_scores_with_version_and_checksum(
    km_tiny_store, headroom, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    starts, field, rollout = _stored(km_tiny_store)
    last = field[:, starts].T
    path = save_predictions(
        tmp_path / "p.npz", km_tiny_store, "test", np.repeat(last[:, :, None], rollout, 2)
    )
    assert main(["evaluate", "--predictions", str(path), "--task", "km-tiny"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["task"] == "km-tiny" and printed["task_version"] == headroom.version
    assert printed["data_checksum"] == headroom.checksum and printed["split"] == "test"
    _close(printed["metrics"], headroom.scores["persistence"])
    assert (
        main(["evaluate", "--predictions", str(path), "--task", "km-tiny", "--split", "val"]) == 2
    )
    assert "made for split 'test', but evaluating split 'val'" in capsys.readouterr().err
