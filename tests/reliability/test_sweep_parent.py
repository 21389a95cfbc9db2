"""Issue 15, failure 3: sweep workers never write conflicting values to the parent run."""

from __future__ import annotations

from dataclasses import dataclass

import mlflow

from roma_bench.sweeps.runner import SweepSettings, run_sweep
from roma_bench.training.config import TrainConfig


@dataclass
class _Result:
    best_val_loss: float
    status: str = "FINISHED"


def _train_getting_better(config, *, trial, **_):
    """A stand-in for training: each later trial scores better (1 / (number + 1))."""
    return _Result(best_val_loss=1.0 / (trial.number + 1))


def test_a_later_worker_moves_the_best_without_failing_the_parent(tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = str(tmp_path / "study.journal")
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=5)
    settings = SweepSettings(storage=storage, study_name="s", tracking_uri=uri, sweep_seed=0)
    first = run_sweep(base, 2, settings, _train_getting_better)  # worker 1: trials 0, 1 → best 1
    second = run_sweep(base, 4, settings, _train_getting_better)  # worker 2: 2, 3 → best 3
    assert (first.best_trial, second.best_trial) == (1, 3)
    parent = mlflow.MlflowClient(uri).get_run(second.parent_run_id)
    assert second.parent_run_id == first.parent_run_id
    assert parent.info.status == "FINISHED"
    assert "roma.pid" not in parent.data.tags  # a parent is never judged stale by its heartbeat
    assert parent.data.tags["best_trial"] == "3"
    assert parent.data.metrics["best_val_loss"] == 0.25
    history = mlflow.MlflowClient(uri).get_metric_history(second.parent_run_id, "best_val_loss")
    assert [(m.step, m.value) for m in history] == [(2, 0.5), (4, 0.25)]


def test_a_sweep_tracks_to_mlflow_tracking_uri_like_train(tmp_path, monkeypatch):
    """No --tracking-uri: the sweep resolves the store as ``train`` does ($MLFLOW_TRACKING_URI)."""
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=5)
    settings = SweepSettings(storage=str(tmp_path / "study.journal"), study_name="s")
    result = run_sweep(base, 1, settings, _train_getting_better)
    assert mlflow.MlflowClient(uri).get_run(result.parent_run_id).info.status == "FINISHED"
    assert not (tmp_path / "runs" / "mlflow.db").exists()
