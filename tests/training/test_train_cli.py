"""``roma-bench train`` / ``evaluate`` end to end on the synthetic task (in-process)."""

from __future__ import annotations

import harness_doubles as doubles
import pytest

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.cli import main
from roma_bench.training.checkpointing import STATE_FILE


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('cli') / 'mlflow.db'}"


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


ARGS = ["--model", "harness-linear", "--task", "syn-tiny", "--steps", "6", "--device", "cpu",
        "--set", "val_every=3", "--set", "checkpoint_every=3", "--set", "plots=false", "--quiet"]  # fmt: skip


def run_id_from(out: str) -> str:
    return out.split("run ", 1)[1].split(":", 1)[0]


def test_train_then_evaluate_by_run_id(store, env, monkeypatch, capsys):
    doubles.install(monkeypatch)
    assert main(["train", *ARGS, "--tracking-uri", store, "--set", "optim.lr=2e-3"]) == 0
    out = capsys.readouterr().out
    assert "FINISHED after 6 steps" in out and "test smspe" in out
    run_id = run_id_from(out)
    assert main(["evaluate", "--run", run_id, "--tracking-uri", store, "--json"]) == 0
    import json

    evaluated = json.loads(capsys.readouterr().out)
    trained = float(out.split("test smspe", 1)[1].split()[0])
    assert evaluated["split"] == "test"
    assert evaluated["metrics"]["smspe"] == pytest.approx(trained, rel=1e-4)
    assert set(evaluated["metrics"]) >= {"nrmse", "rollout_nrmse_h4", "phase_error"}


def test_resume_by_run_id(store, env, monkeypatch, capsys):
    doubles.install(monkeypatch, kill_at=4)
    with pytest.raises(doubles.SimulatedKillError):
        main(["train", *ARGS, "--tracking-uri", store, "--out", str(env / "killed")])
    assert read_checkpoint(env / "killed" / STATE_FILE)["extra"]["step"] == 3
    import mlflow

    run = mlflow.search_runs(experiment_names=["syn-tiny"], output_format="list",
                             order_by=["attributes.start_time DESC"])[0]  # fmt: skip
    assert run.info.status == "FAILED"
    opened = doubles.install(monkeypatch)
    assert main(["train", "--resume", run.info.run_id, "--tracking-uri", store, "--quiet"]) == 0
    assert opened["syn-tiny"].served == [3, 4, 5]
    assert f"run {run.info.run_id}: FINISHED after 6 steps" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--resume"])


def test_bad_input_is_one_clear_line(store, env, monkeypatch, capsys):
    doubles.install(monkeypatch)
    assert main(["train", *ARGS, "--set", "optim.lrr=1"]) == 2
    assert "optim.lrr: unknown key" in capsys.readouterr().err
    assert main(["train", "--task", "syn-tiny"]) == 2
    assert "--model is required" in capsys.readouterr().err
    assert main(["train", "--resume", str(env / "nowhere"), "--tracking-uri", store]) == 2
    assert "neither a run folder nor a run id" in capsys.readouterr().err
    assert main(["train", "--resume", str(env), "--model", "x"]) == 2
    assert "--resume continues a run with its own config" in capsys.readouterr().err
