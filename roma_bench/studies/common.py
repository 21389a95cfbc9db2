"""What every study shares: the parent MLflow run, train-and-score, CSV/PNG/markdown output.

A study writes three files under ``<leaderboard_dir>/studies/`` (atomically):
``<study>-<task>.csv`` (one row per training run, the command on its first line as a
``#`` comment — read it with ``pandas.read_csv(path, comment="#")``), ``<study>-<task>.png``
(its plot) and ``<study>-<task>.md`` (the command and the summary table). Each training run
is an MLflow run nested under one parent run per study invocation.

A study run that the task's board already trained (the same ``roma-bench train`` command on
the same data) is not trained again: its row takes the board run's scores
(:mod:`roma_bench.studies.board_runs`).

A study resumes and trains each config once: :mod:`roma_bench.studies.resume`.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roma_bench.cards import load_card
from roma_bench.files import atomic_write_bytes
from roma_bench.paths import leaderboard_dir
from roma_bench.tracking.runs import TrackedRun
from roma_bench.tracking.runs import parent_run as tracking_parent_run
from roma_bench.tracking.tags import tag
from roma_bench.training.config import TrainConfig
from roma_bench.training.evaluate import evaluate_checkpoint
from roma_bench.training.runs import TrainFn, TrainingJob, run_training

#: The row columns every study records from a run's config; with the study's own columns
#: (model, seed, arm, σ, width factor, ...) they identify the run when a study resumes.
CONFIG_COLUMNS: tuple[str, ...] = (
    "task_version", "learning_task", "size", "steps", "lr", "warmup_steps",
)  # fmt: skip


@dataclass(frozen=True)
class StudyFiles:
    """The CSV, plot and markdown summary of one study on one task."""

    csv: Path
    png: Path
    md: Path


def study_files(study: str, task: str, out_dir: Path | None = None) -> StudyFiles:
    """``<out_dir or leaderboard_dir()/studies>/<study>-<task>.{csv,png,md}``."""
    folder = Path(out_dir) if out_dir is not None else leaderboard_dir() / "studies"
    stem = f"{study}-{Path(task).stem}"
    return StudyFiles(folder / f"{stem}.csv", folder / f"{stem}.png", folder / f"{stem}.md")


#: options that say how an invocation runs, not which rows it trains: never recorded
#: (option → how many values follow it)
NOT_RECORDED: Mapping[str, int] = {"--no-train": 0, "--shard": 1}


def without_options(words: Sequence[str], options: Mapping[str, int]) -> list[str]:
    """``words`` less each option of ``options`` and its values (``--opt v`` or
    ``--opt=v``)."""
    kept: list[str] = []
    skip = 0
    for word in words:
        name = word.split("=", 1)[0]
        if skip:
            skip -= 1
        elif name in options:
            skip = 0 if "=" in word else options[name]
        else:
            kept.append(word)
    return kept


def current_command() -> str:
    """The command line that is running, as ``roma-bench ...`` when run through the CLI;
    without ``--no-train`` and ``--shard I/N`` (:data:`NOT_RECORDED`), so that the recorded
    command is the one that trains the rows, whichever shard wrote them."""
    argv = without_options(sys.argv, NOT_RECORDED)
    if argv and Path(argv[0]).name in ("roma-bench", "__main__.py"):
        argv[0] = "roma-bench"
    return shlex.join(argv)


def write_csv(rows: Sequence[dict[str, Any]], path: Path, command: str) -> Path:
    """One row per dict (columns in first-seen order) under a ``# command: ...`` line."""
    import pandas as pd

    buffer = io.StringIO()
    buffer.write(f"# command: {command}\n")
    pd.DataFrame(list(rows)).to_csv(buffer, index=False, float_format="%.6g")
    return atomic_write_bytes(path, buffer.getvalue().encode())


def read_csv(path: Path) -> Any:
    """The rows of a study CSV as a ``pandas.DataFrame`` (the command line skipped)."""
    import pandas as pd

    # task versions are labels ("2.0"), not numbers: read as floats they lose their form
    return pd.read_csv(path, comment="#", dtype={"task_version": str})


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buffer.getvalue())


def new_figure(ncols: int = 1) -> tuple[Any, Any]:
    """A figure with ``ncols`` axes on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, ncols, figsize=(5.5 * ncols, 4.2), squeeze=False, layout="constrained"
    )
    return fig, axes[0]


def primary_metric(task: str, learning_task: str) -> str:
    """The error a study reports: the task card's primary metric of ``learning_task``."""

    return load_card(task).primary_metric(learning_task)


def test_error(result: Any, config: TrainConfig, metric: str | None = None) -> float:
    """The clean test error of a finished run: its end-of-training scores, else re-evaluated
    from its checkpoint; ``KeyError`` when neither has ``metric``."""
    metric = metric or primary_metric(config.task, config.learning_task)
    scores = dict(getattr(result, "metrics", {}) or {})
    if metric not in scores and getattr(result, "checkpoint", None) is not None:
        scores = evaluate_checkpoint(
            result.checkpoint, task=config.task, split="test", learning_task=config.learning_task
        )
    if metric not in scores:
        raise KeyError(f"metric {metric!r} not in the scores ({', '.join(sorted(scores))})")
    return float(scores[metric])


@contextlib.contextmanager
def parent_run(
    study: str, task: str, tracking_uri: str | None, params: dict[str, Any]
) -> Iterator[TrackedRun]:
    """The run ``study <study> <task>`` (experiment ``study-<study>``) that the study's
    trainings nest under (:func:`roma_bench.tracking.runs.parent_run`)."""
    tags = {tag("study"): study, tag("task"): task, tag("command"): current_command()}
    with tracking_parent_run(
        f"study-{study}", tracking_uri=tracking_uri, run_name=f"study {study} {task}",
        tags=tags, params=params,
    ) as run:  # fmt: skip
        yield run


def train_in_study(
    config: TrainConfig,
    train_fn: TrainFn | None,
    *,
    tracking_uri: str | None,
    parent: TrackedRun | None,
    study: str,
    run_name: str,
    out_dir: Path | None = None,
) -> Any:
    """``config`` trained as a run of ``study`` nested under ``parent``
    (:func:`roma_bench.training.runs.run_training`)."""
    job = TrainingJob(config, {tag("study"): study}, run_name, out_dir, resumable=True)
    return run_training(
        job, tracking_uri=tracking_uri, parent=parent, train_fn=train_fn, progress=False
    )


def log_outputs(parent: TrackedRun, files: StudyFiles) -> None:
    """Attach the study's files to its parent MLflow run (folder ``study``)."""
    for path in (files.csv, files.png, files.md):
        if path.exists():
            parent.log_artifact(path, "study")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """A GitHub markdown table of ``rows`` (columns of the first row)."""
    if not rows:
        return "(no rows)\n"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_markdown(files: StudyFiles, title: str, command: str, body: str) -> Path:
    """The study's summary: title, the command that made it, the body, links to CSV and plot."""
    text = (
        f"# {title}\n\nGenerated by `{command}`; do not edit by hand.\n\n{body}\n"
        f"Rows: [{files.csv.name}]({files.csv.name}); plot: [{files.png.name}]({files.png.name}).\n"
    )
    return atomic_write_bytes(files.md, text.encode())


def model_config(
    base: TrainConfig, name: str, lrs: Mapping[str, float] | None = None, /, **update: Any
) -> TrainConfig:
    """``base`` for model ``name`` at its learning rate in ``lrs`` (``base``'s when it has
    none), with the fields of ``update`` replaced (``model=`` is the model's config)."""
    optim = base.optim
    if lrs and name in lrs:
        optim = optim.model_copy(update={"lr": float(lrs[name])})
    return base.model_copy(update={"model_name": name, "optim": optim, **update})


def learning_rates_text(
    base: TrainConfig, models: Sequence[str], lrs: Mapping[str, float] | None
) -> str:
    """``model=lr`` per model, comma-separated: the learning rate each model trains at
    (the study's MLflow param ``lrs`` and its markdown)."""
    return ",".join(f"{m}={model_config(base, m, lrs).optim.lr:g}" for m in models)


def config_columns(config: TrainConfig) -> dict[str, Any]:
    """The :data:`CONFIG_COLUMNS` of a run of ``config`` (the card's version for its task)."""
    return {
        "task_version": load_card(config.task).version,
        "learning_task": config.learning_task,
        "size": config.size,
        "steps": config.steps,
        "lr": config.optim.lr,
        "warmup_steps": config.optim.warmup_steps,
    }
