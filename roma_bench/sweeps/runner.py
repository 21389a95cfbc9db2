"""``roma-bench sweep``: tune one model on one task with Optuna, every trial a tracked run.

The objective of a trial is the best validation loss of a short training run
(:func:`roma_bench.training.fit.train`) with the trial's suggestions applied to a base
:class:`~roma_bench.training.config.TrainConfig`. Sampler: TPE, seeded per trial number;
pruner: median of the other trials' validation losses at the same step. Every trial is an
MLflow run nested under one parent run per study (its id is kept in the study's user
attribute ``mlflow_parent_run_id`` so every worker nests under the same parent). The best
trial's resolved config is exported as a YAML file that ``roma-bench train --config``
reads back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import Trial, TrialState

from roma_bench.files import atomic_write_text
from roma_bench.paths import default_tracking_uri, runs_dir
from roma_bench.registry import get_model_class
from roma_bench.sweeps.space import suggest_train_config
from roma_bench.sweeps.storage import ClaimLock, open_storage
from roma_bench.sweeps.worker import WorkerSummary, finished_count, run_worker
from roma_bench.tracking.runs import ensure_experiment, resolve_tracking_uri
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import train

TrainFn = Callable[..., Any]


@dataclass
class SweepResult:
    """Outcome of one worker's call: the study's totals and where the best config was written."""

    study_name: str
    storage: str
    n_finished: int
    best_value: float | None
    best_trial: int | None
    best_config_path: Path | None
    parent_run_id: str | None
    worker: WorkerSummary


def sampler_factory(seed: int) -> Callable[[int], optuna.samplers.BaseSampler]:
    """TPE whose seed depends on the sweep seed and the trial number (``seed·100003 + k``)."""

    def make(trial_number: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(
            seed=(seed * 100003 + trial_number) % (2**31), n_startup_trials=5
        )

    return make


def default_pruner(n_trials: int) -> optuna.pruners.BasePruner:
    """Median pruning once a couple of trials finished (at least 2, at most 5)."""
    return optuna.pruners.MedianPruner(n_startup_trials=max(2, min(5, n_trials // 4)))


def default_study_name(config: TrainConfig) -> str:
    return f"{config.model_name}-{config.task}-{config.size}-seed{config.seed}"


def make_objective(
    base: TrainConfig,
    *,
    study_name: str,
    tracking_uri: str | None,
    parent_run_id: str | None,
    train_fn: TrainFn,
    out_root: Path,
) -> Callable[[Trial], float]:
    """The objective: train the trial's config and return its best validation loss."""

    model_cls = get_model_class(base.model_name)

    def objective(trial: Trial) -> float:
        config = suggest_train_config(trial, base, model_cls)
        # The exported config is what the user re-trains: it keeps the base's test evaluation.
        trial.set_user_attr("train_config", config.model_dump(mode="json"))
        # Tuning never looks at the test split: trials are scored on validation loss only.
        config = config.model_copy(update={"evaluate_test": False})
        tags = {"optuna.study": study_name, "optuna.trial": str(trial.number), "sweep": "1"}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        result = train_fn(
            config,
            tracking_uri=tracking_uri,
            run_name=f"{study_name}/trial-{trial.number}",
            nested=True,
            tags=tags,
            trial=trial,
            progress=False,
            out_dir=out_root / f"trial-{trial.number}",
        )
        for key in ("run_id", "num_parameters", "steps_done", "wall_time", "status"):
            value = getattr(result, key, None)
            if value is not None:
                trial.set_user_attr(key, value if not isinstance(value, Path) else str(value))
        if getattr(result, "checkpoint", None) is not None:
            trial.set_user_attr("checkpoint", str(result.checkpoint))
        status = str(getattr(result, "status", "FINISHED")).upper()
        if status != "FINISHED":  # diverged (NaN or exploding loss): the trial fails
            message = getattr(result, "message", "") or "no message"
            raise RuntimeError(f"training ended with status {status}: {message}")
        return float(result.best_val_loss)

    return objective


def export_best_config(study: optuna.Study, path: Path) -> Path | None:
    """Write the best COMPLETE trial's resolved TrainConfig as YAML (atomic); ``None`` if none."""
    complete = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not complete:
        return None
    best = min(complete, key=lambda t: t.value)
    config = TrainConfig.model_validate(best.user_attrs["train_config"])
    header = (
        f"# best trial {best.number} of Optuna study {study.study_name!r}: "
        f"best validation loss {best.value:.6g}\n"
        f"# reproduce: roma-bench train --config {path.name}\n"
    )
    text = header + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    return atomic_write_text(path, text)


def _parent_run(study: optuna.Study, lock: ClaimLock, tracking_uri: str | None) -> str | None:
    """Start (first worker) or resume (others) the study's parent MLflow run; return its id."""
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    mlflow.set_tracking_uri(uri)
    with lock.hold():
        run_id = study.user_attrs.get("mlflow_parent_run_id")
        if run_id is None:
            # ensure_experiment puts artifacts next to a local store, never in ./mlruns.
            mlflow.set_experiment(experiment_id=ensure_experiment(f"sweep-{study.study_name}", uri))
            run = mlflow.start_run(run_name=f"sweep {study.study_name}")
            run_id = run.info.run_id
            study.set_user_attr("mlflow_parent_run_id", run_id)
            return run_id
    mlflow.start_run(run_id=run_id)
    return run_id


def run_sweep(
    base: TrainConfig,
    n_trials: int,
    *,
    storage: str | None = None,
    study_name: str | None = None,
    timeout: float | None = None,
    sweep_seed: int | None = None,
    tracking_uri: str | None = None,
    export_path: Path | None = None,
    train_fn: TrainFn | None = None,
    heartbeat_interval: float = 20.0,
    stale_after: float = 120.0,
) -> SweepResult:
    """Run one worker of the sweep; returns when the study has ``n_trials`` trials or on timeout."""
    import mlflow

    if n_trials < 1:
        raise ValueError(f"--n-trials must be at least 1 (got {n_trials})")
    if train_fn is None:
        train_fn = train
    if tracking_uri is None:
        tracking_uri = default_tracking_uri()
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    study_name = study_name or default_study_name(base)
    optuna_storage, resolved = open_storage(storage, study_name)
    lock = ClaimLock(resolved, study_name)
    with lock.hold():
        study = optuna.create_study(
            study_name=study_name, storage=optuna_storage, direction="minimize", load_if_exists=True
        )
        if "base_config" not in study.user_attrs:
            study.set_user_attr("base_config", base.model_dump(mode="json"))
        elif study.user_attrs["base_config"] != base.model_dump(mode="json"):
            raise ValueError(
                f"study {study_name!r} in {resolved} was started with another base config; "
                "pass the same options or a new --study-name"
            )
    parent_run_id = _parent_run(study, lock, tracking_uri)
    seed = base.seed if sweep_seed is None else sweep_seed
    out_root = runs_dir() / "sweeps" / study_name
    objective = make_objective(
        base,
        study_name=study_name,
        tracking_uri=tracking_uri,
        parent_run_id=parent_run_id,
        train_fn=train_fn,
        out_root=out_root,
    )

    def log_to_parent(study: optuna.Study, trial: Any) -> None:
        if trial.state == TrialState.COMPLETE:
            mlflow.log_metric("trial_best_val_loss", trial.value, step=trial.number)

    try:
        summary = run_worker(
            study_name,
            optuna_storage,
            lock,
            objective,
            n_trials,
            sampler_factory=sampler_factory(seed),
            pruner=default_pruner(n_trials),
            timeout=timeout,
            heartbeat_interval=heartbeat_interval,
            stale_after=stale_after,
            callbacks=(log_to_parent,),
        )
        export_path = export_path or runs_dir() / "sweeps" / f"{study_name}-best.yaml"
        with lock.hold():  # one worker at a time reads the study and writes its best
            study = optuna.load_study(study_name=study_name, storage=optuna_storage)
            written = export_best_config(study, export_path)
            best_trial = _best(study)
            if best_trial is not None:
                _log_best_to_parent(best_trial, finished_count(study))
            if written is not None:
                mlflow.log_artifact(str(written))
        mlflow.end_run()
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    finally:
        lock.close()
    return SweepResult(
        study_name=study_name,
        storage=resolved,
        n_finished=finished_count(study),
        best_value=None if best_trial is None else best_trial.value,
        best_trial=None if best_trial is None else best_trial.number,
        best_config_path=written,
        parent_run_id=parent_run_id,
        worker=summary,
    )


def _log_best_to_parent(best_trial: Any, finished: int) -> None:
    """The study's best so far on the (shared) parent run, as values that may change.

    Every worker writes this when it ends and the best moves as trials finish, so it is a
    metric at step ``finished`` (the latest step holds the best of the most trials) and tags
    ``best_trial`` / ``best.<param>``, never params: MLflow refuses to change a param, which
    crashed the last worker of a multi-worker sweep and marked the parent FAILED.
    """
    import mlflow

    mlflow.log_metric("best_val_loss", best_trial.value, step=finished)
    tags = {f"best.{k}": str(v) for k, v in best_trial.params.items()}
    mlflow.set_tags({"best_trial": str(best_trial.number), **tags})


def _best(study: optuna.Study) -> Any:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(complete, key=lambda t: t.value) if complete else None


def trials_table(study: optuna.Study) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, params, error (for printing and tests)."""
    return [
        {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "params": json.dumps(t.params, sort_keys=True),
            "error": t.user_attrs.get("error") or t.user_attrs.get("abandoned", ""),
        }
        for t in study.get_trials(deepcopy=False)
    ]
