"""Run many trainings: the one path every board, study, sweep and the quick start go through.

A :class:`TrainingJob` is a training configuration with what its MLflow run should carry
(tags, a run name, an output folder, an Optuna trial). :func:`run_trainings` trains a list
(or a lazily built iterable) of them one after the other and returns their results; with a
``parent`` run (:func:`roma_bench.tracking.runs.parent_run`) every training is nested under
it. ``on_result`` sees each result as soon as its run ends, so a caller writes its per-run
files before the next training starts and nothing finished is lost on a crash.

The tracking URI is resolved once, by the command's entry point
(:func:`roma_bench.tracking.runs.resolve_tracking_uri`), and passed down unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roma_bench.tracking.runs import TrackedRun, child_tags
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import train
from roma_bench.training.loop import TrainResult

#: ``train``'s signature: ``train_fn(config, *, tracking_uri, run_name, nested, tags,
#: progress, out_dir[, trial][, resumable]) -> TrainResult`` (tests pass recording doubles).
TrainFn = Callable[..., Any]


@dataclass(frozen=True)
class TrainingJob:
    """One training to run: its config and what its MLflow run carries."""

    config: TrainConfig
    tags: Mapping[str, str] = field(default_factory=dict)
    run_name: str | None = None
    out_dir: Path | None = None
    #: An ``optuna.Trial`` that receives validation losses and may prune the run.
    trial: Any = None
    #: Continue this configuration's interrupted run, if any, instead of starting over
    #: (:mod:`roma_bench.training.unfinished`): for the runs of boards, studies and budget
    #: checks, whose reruns resume.
    resumable: bool = False


def run_trainings(
    jobs: Iterable[TrainingJob],
    *,
    tracking_uri: str | None,
    parent: TrackedRun | None = None,
    train_fn: TrainFn | None = None,
    progress: bool = True,
    on_result: Callable[[TrainingJob, TrainResult], None] | None = None,
) -> list[TrainResult]:
    """Train every job in order; returns their results (failed runs included, in order).

    ``parent``: nest each run under it (tag ``mlflow.parentRunId``). ``on_result(job,
    result)`` runs after each training, before the next starts. A training that ends
    FAILED (it diverged) does not stop the others; an exception does.
    """
    train_fn = train if train_fn is None else train_fn
    results = []
    for job in jobs:
        extra = {} if job.trial is None else {"trial": job.trial}
        if job.resumable:
            extra["resumable"] = True
        result = train_fn(
            job.config,
            tracking_uri=tracking_uri,
            run_name=job.run_name,
            nested=parent is not None,
            tags={**child_tags(parent), **job.tags},
            progress=progress,
            out_dir=job.out_dir,
            **extra,
        )
        if on_result is not None:
            on_result(job, result)
        results.append(result)
    return results


def run_training(job: TrainingJob, **options: Any) -> TrainResult:
    """:func:`run_trainings` of one job (``options`` as there)."""
    return run_trainings([job], **options)[0]


def require_finished(result: Any, what: str = "training") -> Any:
    """``result`` if its run ``FINISHED``; else ``RuntimeError('<what> <status>: <message>')``."""
    if result.status != "FINISHED":
        raise RuntimeError(f"{what} {result.status}: {getattr(result, 'message', '')}")
    return result
