"""`roma-bench leaderboard add`: submitted predictions are scored on the spot, marked external."""

from __future__ import annotations

import csv
import json
import math

import h5py
import numpy as np
import pytest

from roma_bench import save_predictions
from roma_bench.cli import main
from roma_bench.results import results_dir


@pytest.fixture
def boards(km_tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(tmp_path / "default-boards"))
    return tmp_path / "boards"


def _persistence(store, scale: float = 0.0) -> np.ndarray:
    with h5py.File(store, "r") as f:
        starts, nodes = f["windows/test"][:], f["split/test"][:]
        last = f["field"][nodes, :][:, starts].T  # [W, n]
        rollout = json.loads(f.attrs["card"])["window"]["rollout"]
    steps = scale * np.arange(1, rollout + 1)  # a constant drift per frame (0: persistence)
    return last[:, :, None] + steps[None, None, :]


def _rows(boards):
    return {r["model"]: r for r in csv.DictReader((boards / "km-tiny.csv").open())}


def test_add_scores_each_seed_and_ranks_it(km_tiny_store, boards, tmp_path, capsys):
    from roma_bench.training.headroom import floor_scores

    files = [
        save_predictions(
            tmp_path / f"s{i}.h5", km_tiny_store, "test", _persistence(km_tiny_store, s)
        )
        for i, s in enumerate((0.0, 0.01))
    ]
    command = ["leaderboard", "add", "--task", "km-tiny", "--name", "mine", "--out", str(boards),
               "--predictions", *map(str, files)]  # fmt: skip
    assert main(command) == 0
    written = sorted(results_dir("km-tiny", boards).glob("*.json"))
    assert len(written) == 2
    first = json.loads(written[0].read_text())
    assert first["external"] is True and first["verified"] is True and first["size"] == "external"
    persistence = floor_scores("km-tiny", "test", ("persistence",), data_path=km_tiny_store)
    row = _rows(boards)["mine"]
    assert row["seeds"] == "2" and row["seed_list"] == "0 1" and row["rank"] == "1"
    seed0 = persistence.scores["persistence"]["delta_nrmse"]
    seeds = sorted(json.loads(p.read_text())["metrics"]["delta_nrmse"] for p in written)
    assert math.isclose(min(seeds, key=lambda v: abs(v - seed0)), seed0, rel_tol=1e-6)
    assert float(row["delta_nrmse_mean"]) == float(f"{np.mean(seeds):.6g}")
    assert "mine (external)" in capsys.readouterr().out


def test_a_result_file_without_predictions_is_unverified(km_tiny_store, boards, tmp_path):
    path = save_predictions(tmp_path / "p.npz", km_tiny_store, "test", _persistence(km_tiny_store))
    assert main(["leaderboard", "add", "--task", "km-tiny", "--name", "mine", "--out", str(boards),
                 "--predictions", str(path)]) == 0  # fmt: skip
    folder = results_dir("km-tiny", boards)
    claimed = json.loads(next(folder.glob("*.json")).read_text())
    claimed.update(model="claimed", run_id="hand-written", predictions_sha256="")
    claimed["metrics"] = {k: v / 10 for k, v in claimed["metrics"].items()}  # "better"
    (folder / "claimed.json").write_text(json.dumps(claimed))
    assert main(["leaderboard", "show", "--task", "km-tiny", "--out", str(boards)]) == 0
    rows = _rows(boards)
    assert rows["claimed"]["rank"] == "" and rows["claimed"]["verified"] == "False"
    assert rows["mine"]["rank"] == "1"
    assert "| unverified | claimed (external) |" in (boards / "km-tiny.md").read_text()


def test_add_refuses_predictions_for_other_data_and_writes_nothing(
    km_tiny_store, boards, tmp_path, capsys
):
    good = save_predictions(tmp_path / "g.h5", km_tiny_store, "test", _persistence(km_tiny_store))
    bad = tmp_path / "b.h5"
    bad.write_bytes(good.read_bytes())
    with h5py.File(bad, "a") as f:
        f.attrs["data_checksum"] = "f" * 64
    code = main(["leaderboard", "add", "--task", "km-tiny", "--name", "mine", "--out", str(boards),
                 "--predictions", str(good), str(bad)])  # fmt: skip
    assert code == 2
    assert "made for data_checksum 'ffff" in capsys.readouterr().err
    assert not results_dir("km-tiny", boards).exists()
