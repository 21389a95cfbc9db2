"""Studies with the real trainer on km-tiny (slow: several short training runs each)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from roma_bench.studies.common import read_csv
from roma_bench.studies.noise import run_noise_study
from roma_bench.studies.transfer import run_transfer_study
from roma_bench.training.config import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture()
def base(km_tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TrainConfig:
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    yield TrainConfig(model_name="gcn", task="km-tiny", steps=4, val_every=2, val_batches=1)
    while mlflow.active_run():
        mlflow.end_run()


def test_transfer_study_trains_pretrain_finetune_and_scratch(base: TrainConfig, tmp_path: Path):
    rows, files = run_transfer_study(
        base, ["gcn"], [0], protocol="finetune", pretrain_steps=4, finetune_steps=2,
        directions=[("forecast", "effective")], out_dir=tmp_path / "studies", command="test",
    )  # fmt: skip
    (row,) = rows
    assert row["status"] == "ok", row["status"]
    assert row["pretrain_steps"] == 4 and row["finetune_steps"] == 2 and row["scratch_steps"] == 6
    assert row["metric"] == "coarse_error" and row["error_scratch"] > 0
    expected = row["error_scratch"] / row["error_transferred"] - 1
    assert row["positive_transfer"] == pytest.approx(expected)
    assert read_csv(files.csv)["positive_transfer"].iloc[0] == pytest.approx(expected, rel=1e-5)


def test_noise_study_scores_clean_test_data(base: TrainConfig, tmp_path: Path) -> None:
    rows, summary, files = run_noise_study(
        base, ["gcn"], sigmas=[0.0, 1e-2], seeds=[0], out_dir=tmp_path / "studies", command="t"
    )
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert rows[0]["error"] != rows[1]["error"]  # the training data differed
    assert files.png.exists() and [s["sigma"] for s in summary] == [0.0, 1e-2]
