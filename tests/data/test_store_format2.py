"""Task-store format 2: stored evaluation windows and training-split normalization."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from cards_for_tests import micro_card_data

from roma_bench.cards import TaskCard
from roma_bench.data.generation import generate_task
from roma_bench.data.loader import WindowLoader
from roma_bench.data.store import StoreError, TaskStore, verify_store


def _copy(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.h5"
    shutil.copyfile(path, target)
    return target


def test_stored_windows_follow_the_documented_rule(micro_store, micro_card) -> None:
    # tasks/README.md: lo = max(κ-1, a-1), hi = b-1-R, t0 = unique(round(linspace(lo, hi, W)))
    kappa, rollout = micro_card.window.lookback, micro_card.window.rollout
    frames = micro_card.simulation.frames  # 101: train [0, 70), val [70, 80), test [80, 101)
    expected = {"val": (69, 80 - 1 - rollout), "test": (79, frames - 1 - rollout)}
    with h5py.File(micro_store, "r") as f:
        stored = {split: f[f"windows/{split}"][()] for split in ("val", "test")}
    for split, (lo, hi) in expected.items():
        assert lo >= kappa - 1
        want = np.unique(np.round(np.linspace(lo, hi, micro_card.window.eval_windows)))
        assert stored[split].dtype == np.int64
        np.testing.assert_array_equal(stored[split], want.astype(np.int64))
    np.testing.assert_array_equal(stored["test"], [79, 84, 89, 94])
    with TaskStore(micro_store) as store:
        for split in ("val", "test"):
            loader = WindowLoader(store, split)
            np.testing.assert_array_equal(loader.starts, stored[split])
            frame_of = {float(store.times[t]): t for t in stored[split].tolist()}
            assert [frame_of[b.t0] for b in loader.batches()] == stored[split].tolist()


def test_loader_scores_the_windows_in_the_file(micro_store, tmp_path) -> None:
    """The loader reads the windows from the file rather than recomputing them."""
    copy = _copy(micro_store, tmp_path)
    with h5py.File(copy, "r+") as f:
        moved = np.array([80, 90], dtype=np.int64)
        sha = f["windows/test"].attrs["sha256"]
        del f["windows/test"]
        f["windows/test"] = moved
        f["windows/test"].attrs["sha256"] = sha
    with TaskStore(copy) as store, pytest.raises(StoreError, match="windows/test does not match"):
        WindowLoader(store, "test")


def _training_field(path: Path) -> tuple[np.ndarray, str]:
    with TaskStore(path) as store:
        stop = store.card.frame_ranges["train"][1]
        rows = store.read_field(store.split.train.numpy(), 0, stop)
        return rows.astype(np.float64), store.card.system


def test_increment_scale_is_the_clipped_rms_of_training_increments(micro_store) -> None:
    rows, _ = _training_field(micro_store)
    steps = np.abs(np.diff(rows, axis=1))
    clip = np.quantile(steps, 0.99)
    expected = np.sqrt(np.mean(np.minimum(steps, clip) ** 2))
    with TaskStore(micro_store) as store:
        stats = store.normalization
    assert set(stats) == {"increment_scale", "difference_scales"}
    assert stats["increment_scale"] == pytest.approx(expected, rel=1e-12)
    # clipping at the 0.99 quantile can only lower the plain RMS of the increments
    assert stats["increment_scale"] <= np.sqrt(np.mean(steps**2))


def test_difference_scales_are_the_clipped_rms_of_each_order(micro_store) -> None:
    """``σ_j`` = clipped RMS of the order-j backward differences, j = 1 … min(4, κ−1)."""
    rows, _ = _training_field(micro_store)
    with TaskStore(micro_store) as store:
        stats, lookback = store.normalization, store.card.window.lookback
    expected, current = [], rows
    for _ in range(min(4, lookback - 1)):
        current = current[:, 1:] - current[:, :-1]
        magnitude = np.abs(current)
        clipped = np.minimum(magnitude, np.quantile(magnitude, 0.99))
        expected.append(np.sqrt(np.mean(clipped**2)))
    assert len(stats["difference_scales"]) == min(4, lookback - 1) > 0
    assert stats["difference_scales"] == pytest.approx(expected, rel=1e-12)
    assert stats["difference_scales"][0] == pytest.approx(stats["increment_scale"], rel=1e-12)


def test_social_store_holds_a_level_scale(tmp_path: Path) -> None:
    card = TaskCard.model_validate(micro_card_data("micro-social", system="social"))
    path = generate_task(card, tmp_path / "social.h5", progress=False)
    rows, system = _training_field(path)
    assert system == "social"
    with TaskStore(path) as store:
        stats = store.normalization
    assert stats["level_scale"] == pytest.approx(np.sqrt(np.mean(rows**2)), rel=1e-12)
    assert stats["increment_scale"] > 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("windows/test", None),
        ("windows/val", None),
        ("normalization/increment_scale", 0.5),
        ("normalization/difference_scales", None),
    ],
)
def test_verify_names_a_flipped_window_or_scale(micro_store, tmp_path, name, value) -> None:
    copy = _copy(micro_store, tmp_path)
    with h5py.File(copy, "r+") as f:
        data = f[name][()]
        flipped = data + 1 if value is None else np.float64(value)
        f[name][()] = flipped
    with pytest.raises(StoreError, match=f"verification failed: {name}: checksum mismatch"):
        verify_store(copy)


def test_data_checksum_covers_the_new_arrays(micro_store) -> None:
    with TaskStore(micro_store) as store:
        recorded = store.array_checksums()
    assert {
        "windows/val",
        "windows/test",
        "normalization/increment_scale",
        "normalization/difference_scales",
    } <= set(recorded)


def test_format_1_store_gives_one_line(micro_store, tmp_path) -> None:
    copy = _copy(micro_store, tmp_path)
    with h5py.File(copy, "r+") as f:
        f.attrs["format_version"] = 1
    with pytest.raises(StoreError) as err:
        TaskStore(copy)
    message = str(err.value)
    assert "\n" not in message
    assert message.endswith(
        "the file is format 1; regenerate with `roma-bench generate micro --force`"
    )
