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

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import Trial, TrialState

from roma_bench.files import atomic_write_text
from roma_bench.paths import runs_dir
from roma_bench.registry import get_model_class
from roma_bench.sweeps.space import suggest_train_config
from roma_bench.sweeps.storage import ClaimLock, open_storage
from roma_bench.sweeps.worker import WorkerSummary, finished_count, run_worker
from roma_bench.tracking.runs import TrackedRun, parent_run, resolve_tracking_uri
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainFn, TrainingJob, run_training


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
    tracking_uri: str,
    parent: TrackedRun | None,
    train_fn: TrainFn | None,
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
        job = TrainingJob(config, tags, f"{study_name}/trial-{trial.number}",
                          out_root / f"trial-{trial.number}", trial)  # fmt: skip
        result = run_training(
            job, tracking_uri=tracking_uri, parent=parent, train_fn=train_fn, progress=False
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
    best = _best(study)
    if best is None:
        return None
    config = TrainConfig.model_validate(best.user_attrs["train_config"])
    header = (
        f"# best trial {best.number} of Optuna study {study.study_name!r}: "
        f"best validation loss {best.value:.6g}\n"
        f"# reproduce: roma-bench train --config {path.name}\n"
    )
    text = header + yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
    return atomic_write_text(path, text)


@dataclass(frozen=True)
class SweepSettings:
    """Where a sweep's study and runs live and how a worker behaves (the ``sweep`` flags)."""

    #: Journal file path or SQLAlchemy URL (``None``: ``<runs>/sweeps/<study>.journal``).
    storage: str | None = None
    study_name: str | None = None
    #: Seconds after which this worker starts no new trial.
    timeout: float | None = None
    #: TPE seed (``None``: the base config's training seed).
    sweep_seed: int | None = None
    #: Resolved by the entry point; ``None`` → :func:`resolve_tracking_uri`'s default.
    tracking_uri: str | None = None
    export_path: Path | None = None
    heartbeat_interval: float = 20.0
    stale_after: float = 120.0


def run_sweep(
    base: TrainConfig,
    n_trials: int,
    settings: SweepSettings | None = None,
    train_fn: TrainFn | None = None,
) -> SweepResult:
    """Run one worker of the sweep; returns when the study has ``n_trials`` trials or on timeout.

    The worker opens (or joins) the Optuna study, opens (first worker) or reopens (the
    others) the study's parent MLflow run, runs trials until the study has ``n_trials``,
    then exports the best config and logs it on the parent run.
    """
    if n_trials < 1:
        raise ValueError(f"--n-trials must be at least 1 (got {n_trials})")
    settings = settings or SweepSettings()
    tracking_uri = resolve_tracking_uri(settings.tracking_uri)
    study_name = settings.study_name or default_study_name(base)
    optuna_storage, resolved = open_storage(settings.storage, study_name)
    lock = ClaimLock(resolved, study_name)
    try:
        study = _open_study(base, study_name, optuna_storage, resolved, lock)
        # The parent run ends FINISHED, or FAILED when anything below raises.
        with contextlib.ExitStack() as stack:
            with lock.hold():
                parent_id = study.user_attrs.get("mlflow_parent_run_id")
                run = stack.enter_context(
                    parent_run(f"sweep-{study_name}", tracking_uri=tracking_uri,
                               run_name=f"sweep {study_name}", run_id=parent_id)
                )  # fmt: skip
                if parent_id is None:
                    study.set_user_attr("mlflow_parent_run_id", run.run_id)
            summary, best_trial, written = _work(
                base, n_trials, settings, study, optuna_storage, lock, run, train_fn
            )
    finally:
        lock.close()
    return SweepResult(
        study_name=study_name,
        storage=resolved,
        n_finished=finished_count(study),
        best_value=None if best_trial is None else best_trial.value,
        best_trial=None if best_trial is None else best_trial.number,
        best_config_path=written,
        parent_run_id=run.run_id,
        worker=summary,
    )


def _open_study(
    base: TrainConfig, study_name: str, optuna_storage: Any, resolved: str, lock: ClaimLock
) -> optuna.Study:
    """Create or load the study; refuse one started with another base config."""
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
    return study


def _work(
    base: TrainConfig,
    n_trials: int,
    settings: SweepSettings,
    study: optuna.Study,
    optuna_storage: Any,
    lock: ClaimLock,
    parent: TrackedRun,
    train_fn: TrainFn | None,
) -> tuple[WorkerSummary, Any, Path | None]:
    """Run this worker's trials, then export the best config; returns (summary, best, path)."""
    study_name = study.study_name
    objective = make_objective(
        base,
        study_name=study_name,
        tracking_uri=parent.tracking_uri,
        parent=parent,
        train_fn=train_fn,
        out_root=runs_dir() / "sweeps" / study_name,
    )

    def log_to_parent(study: optuna.Study, trial: Any) -> None:
        if trial.state == TrialState.COMPLETE:
            parent.log_metrics({"trial_best_val_loss": trial.value}, step=trial.number)

    summary = run_worker(
        study_name,
        optuna_storage,
        lock,
        objective,
        n_trials,
        sampler_factory=sampler_factory(base.seed if settings.sweep_seed is None
                                        else settings.sweep_seed),
        pruner=default_pruner(n_trials),
        timeout=settings.timeout,
        heartbeat_interval=settings.heartbeat_interval,
        stale_after=settings.stale_after,
        callbacks=(log_to_parent,),
    )  # fmt: skip
    export_path = settings.export_path or runs_dir() / "sweeps" / f"{study_name}-best.yaml"
    with lock.hold():  # one worker at a time reads the study and writes its best
        study = optuna.load_study(study_name=study_name, storage=optuna_storage)
        written = export_best_config(study, export_path)
        best_trial = _best(study)
        if best_trial is not None:
            _log_best_to_parent(parent, best_trial, finished_count(study))
        if written is not None:
            parent.log_artifact(written)
    return summary, best_trial, written


def _log_best_to_parent(parent: TrackedRun, best_trial: Any, finished: int) -> None:
    """The study's best so far on the (shared) parent run, as values that may change.

    Every worker writes this when it ends and the best moves as trials finish, so it is a
    metric at step ``finished`` (the latest step holds the best of the most trials) and tags
    ``best_trial`` / ``best.<param>``, never params: MLflow refuses to change a param, which
    crashed the last worker of a multi-worker sweep and marked the parent FAILED.
    """
    parent.log_metrics({"best_val_loss": best_trial.value}, step=finished)
    tags = {f"best.{k}": str(v) for k, v in best_trial.params.items()}
    parent.set_tags({"best_trial": str(best_trial.number), **tags})


def _best(study: optuna.Study) -> Any:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(complete, key=lambda t: t.value) if complete else None
