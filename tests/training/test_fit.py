"""Training loop: learning, resume equivalence, NaN guard, floors, early stopping, pruning."""

from __future__ import annotations

import math

import harness_doubles as doubles
import pytest
import torch

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.models.base import load_checkpoint
from roma_bench.training.checkpointing import MODEL_FILE, STATE_FILE
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import train


@pytest.fixture(scope="module")
def tracking_db(tmp_path_factory):
    """One SQLite store per module (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def tracking(tracking_db, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tracking_db


def config(**kwargs) -> TrainConfig:
    base = dict(
        model_name="harness-linear", task="syn-tiny", steps=12, val_every=4, checkpoint_every=4,
        log_every=2, device="cpu", optim={"lr": 3e-3, "warmup_steps": 2}, plots=False,
    )  # fmt: skip
    base.update(kwargs)
    return TrainConfig(**base)


def final_state(out_dir):
    payload = read_checkpoint(out_dir / STATE_FILE)
    return payload["state_dict"], payload["extra"]


def test_training_learns_and_tracks(tmp_path, tracking, monkeypatch):
    import mlflow

    doubles.install(monkeypatch)
    result = train(config(steps=40, val_every=10, plots=True), tracking_uri=tracking, progress=False,
                   out_dir=tmp_path / "run")  # fmt: skip
    assert result.status == "FINISHED" and result.steps_done == 40
    assert result.best_val_loss < 0.8 * doubles_initial_val(result, tracking)
    assert result.num_parameters == sum(
        p.numel() for p in load_checkpoint(result.checkpoint)[0].parameters()
    )
    run = mlflow.MlflowClient(tracking).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["optim.lr"] == "0.003"
    assert run.data.tags["roma.task_version"] == "1.0"
    assert run.data.tags["roma.data_checksum"] == "synthetic-checksum"
    assert (
        "roma-bench train --model harness-linear --task syn-tiny" in run.data.tags["roma.command"]
    )
    for name in (
        "test_smspe",
        "test_nrmse",
        "test_rollout_nrmse_h16",
        "test_phase_error",
        "test_order_parameter_error",
        "test_coarse_error",
        "test_pde_residual",
    ):
        assert name in run.data.metrics, name
    assert result.metrics["smspe"] == pytest.approx(run.data.metrics["test_smspe"])
    artifacts = {
        a.path for a in mlflow.MlflowClient(tracking).list_artifacts(result.run_id, "plots")
    }
    assert {
        "plots/loss_curves.png",
        "plots/prediction_vs_truth.png",
        "plots/order_parameter.png",
    } <= artifacts
    # the checkpoint is weights-only loadable and names its task version and checksum
    extra = read_checkpoint(result.checkpoint)["extra"]
    assert extra["task_version"] == "1.0" and extra["run_id"] == result.run_id


def doubles_initial_val(result, tracking) -> float:
    import mlflow

    history = mlflow.MlflowClient(tracking).get_metric_history(result.run_id, "val_loss")
    return max(m.value for m in history) if len(history) > 1 else math.inf


def test_resume_reaches_the_same_weights(tmp_path, tracking, monkeypatch):
    doubles.install(monkeypatch)
    straight = train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "a")
    want, want_extra = final_state(straight.out_dir)

    doubles.install(monkeypatch, kill_at=10)  # dies after the step-8 checkpoint, before step 10
    with pytest.raises(doubles.SimulatedKillError):
        train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "b")
    assert final_state(tmp_path / "b")[1]["step"] == 8
    opened = doubles.install(monkeypatch)
    resumed = train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "b",
                    resume=True)  # fmt: skip
    assert opened["syn-tiny"].served == [8, 9, 10, 11]  # continued, not restarted
    got, got_extra = final_state(resumed.out_dir)
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert got_extra["bookkeeping"]["val"] == want_extra["bookkeeping"]["val"]
    assert resumed.best_val_loss == straight.best_val_loss
    import mlflow

    run = mlflow.MlflowClient(tracking).get_run(resumed.run_id)
    assert run.info.status == "FINISHED"  # the failed run was continued, not duplicated


def test_nan_loss_stops_and_marks_failed(tmp_path, tracking, monkeypatch, capsys):
    import mlflow

    doubles.install(monkeypatch, nan_from=3)
    result = train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "nan")
    assert result.status == "FAILED" and result.steps_done == 3
    assert "step 3: loss is nan" in result.message
    assert "marked FAILED" in capsys.readouterr().err
    run = mlflow.MlflowClient(tracking).get_run(result.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["roma.status"] == "FAILED"
    assert "loss is nan" in run.data.tags["roma.failure"]


def test_exploding_loss_is_caught(tmp_path, tracking, monkeypatch):
    doubles.install(monkeypatch)
    cfg = config(loss="mse", divergence_factor=1.5, optim={"lr": 50.0, "warmup_steps": 0,
                                                           "grad_clip": None})  # fmt: skip
    result = train(cfg, tracking_uri=tracking, progress=False, out_dir=tmp_path / "boom")
    assert result.status == "FAILED"
    assert "exceeds divergence_factor=1.5" in result.message or "loss is" in result.message


def test_crash_marks_run_failed(tmp_path, tracking, monkeypatch):
    import mlflow

    mlflow.set_tracking_uri(tracking)
    doubles.install(monkeypatch, kill_at=2)
    with pytest.raises(doubles.SimulatedKillError):
        train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "crash")
    run = mlflow.search_runs(experiment_names=["syn-tiny"], output_format="list",
                             order_by=["attributes.start_time DESC"])[0]  # fmt: skip
    assert run.info.status == "FAILED"
    assert "SimulatedKill" in run.data.tags["roma.failure"]


def test_non_learnable_model_is_only_evaluated(tmp_path, tracking, monkeypatch):
    opened = doubles.install(monkeypatch)
    result = train(config(model_name="harness-persistence"), tracking_uri=tracking,
                   progress=False, out_dir=tmp_path / "floor")  # fmt: skip
    assert result.status == "FINISHED" and result.steps_done == 0
    assert opened["syn-tiny"].served == []
    assert (tmp_path / "floor" / MODEL_FILE).is_file()
    assert result.metrics["rollout_nrmse_h1"] > 0


def test_early_stopping(tmp_path, tracking, monkeypatch):
    doubles.install(monkeypatch)
    cfg = config(steps=200, val_every=1, early_stopping_patience=2, optim={"lr": 1e-9})
    result = train(cfg, tracking_uri=tracking, progress=False, out_dir=tmp_path / "es")
    assert result.status == "FINISHED" and result.steps_done < 200


def test_pruned_trial(tmp_path, tracking, monkeypatch):
    import mlflow
    import optuna

    mlflow.set_tracking_uri(tracking)
    doubles.install(monkeypatch)
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1e-12))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        train(config(), tracking_uri=tracking, progress=False, trial=trial,
              out_dir=tmp_path / "pruned")  # fmt: skip
    run = mlflow.search_runs(experiment_names=["syn-tiny"], output_format="list",
                             order_by=["attributes.start_time DESC"])[0]  # fmt: skip
    assert run.info.status == "KILLED" and run.data.tags["roma.status"] == "PRUNED"
    assert trial.storage.get_trial(trial._trial_id).intermediate_values == {
        4: pytest.approx(run.data.metrics["val_loss"])
    }


def test_social_effective_task(tmp_path, tracking, monkeypatch):
    doubles.install(monkeypatch)
    cfg = config(task="syn-social", learning_task="effective", steps=4)
    result = train(cfg, tracking_uri=tracking, progress=False, out_dir=tmp_path / "soc")
    assert result.status == "FINISHED"
    assert {"coarse_smspe", "coarse_error", "smspe"} <= set(result.metrics)
    assert "phase_error" not in result.metrics


def test_fine_tuning_starts_from_init_checkpoint(tmp_path, tracking, monkeypatch):
    from roma_bench.config import ConfigError

    doubles.install(monkeypatch)
    source = train(config(), tracking_uri=tracking, progress=False, out_dir=tmp_path / "src")
    tuned = train(
        config(init_checkpoint=str(source.checkpoint), learning_task="effective", steps=1,
               val_every=1, optim={"lr": 1e-12, "warmup_steps": 0}),
        tracking_uri=tracking, progress=False, out_dir=tmp_path / "tuned",
    )  # fmt: skip
    want = read_checkpoint(source.checkpoint)["state_dict"]
    got = read_checkpoint(tuned.checkpoint)["state_dict"]
    for key in want:
        assert torch.allclose(got[key], want[key], atol=1e-6), key
    with pytest.raises(
        ConfigError, match="holds model 'harness-linear', not 'harness-persistence'"
    ):
        train(config(model_name="harness-persistence", init_checkpoint=str(source.checkpoint)),
              tracking_uri=tracking, progress=False)  # fmt: skip
