"""``roma-bench sweep`` end to end on km-tiny: real training, tracking, export, re-training.

The commands run as subprocesses (the installed console script, as a user runs them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml
from optuna.trial import TrialState

from roma_bench.training.config import TrainConfig

STEPS = ["--steps", "4", "--set", "val_every=2", "--set", "val_batches=1"]
FAST = ["--set", "optim.warmup_steps=1", "--set", "checkpoint_every=4"]


def _roma_bench(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "roma_bench", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"roma-bench {args[0]} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture()
def env(km_tiny_store: Path, tmp_path: Path) -> dict[str, str]:
    return dict(
        os.environ,
        ROMA_BENCH_DATA=str(km_tiny_store.parent),
        ROMA_BENCH_RUNS=str(tmp_path / "runs"),
        OMP_NUM_THREADS="1",
        MPLBACKEND="Agg",
    )


def test_three_trial_sweep_exports_a_config_that_train_reproduces(
    env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "best.yaml"
    out = _roma_bench(
        ["sweep", "--model", "gcn", "--task", "km-tiny", "--n-trials", "3", *STEPS, *FAST,
         "--study-name", "gcn-test", "--export", str(export)],
        env, tmp_path,
    ).stdout  # fmt: skip
    assert "3 finished trials" in out

    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(
            str(tmp_path / "runs" / "sweeps" / "gcn-test.journal")
        )
    )
    trials = optuna.load_study(study_name="gcn-test", storage=storage).get_trials()
    # Median pruning may stop the third trial early; nothing fails.
    assert len(trials) == 3
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(complete, key=lambda t: t.value)
    assert f"best trial {best.number}:" in out
    # The generic gcn space (width, depth) and the optimizer space were searched.
    assert {"optim.lr", "optim.weight_decay", "model.width", "model.depth"} <= set(best.params)

    config = TrainConfig.model_validate(yaml.safe_load(export.read_text()))
    assert config.optim.lr == best.params["optim.lr"]
    assert config.model["width"] == best.params["model.width"]
    assert config.steps == 4 and config.evaluate_test  # the user's settings, not the trial's

    # Every trial is an MLflow run nested under the sweep's parent run.
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    parent_id = optuna.load_study(study_name="gcn-test", storage=storage).user_attrs[
        "mlflow_parent_run_id"
    ]
    parent = client.get_run(parent_id)
    children = client.search_runs(
        [parent.info.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert len(children) == 3
    assert {t.user_attrs["run_id"] for t in complete} <= {r.info.run_id for r in children}
    assert parent.data.metrics["best_val_loss"] == pytest.approx(best.value)

    again = _roma_bench(
        ["train", "--config", str(export), "--quiet", "--set", "evaluate_test=false"], env, tmp_path
    ).stdout
    reproduced = float(re.search(r"best val_loss\s+(\S+)", again).group(1))
    assert reproduced == pytest.approx(best.value, rel=1e-3)


def test_bad_sweep_arguments_fail_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "roma_bench", "sweep", "--model", "gcn", "--task", "km-tiny",
         "--n-trials", "0"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "roma-bench sweep: error: --n-trials: must be at least 1 (got 0)"
    )
