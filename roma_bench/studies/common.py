"""What every study shares: the parent MLflow run, train-and-score, CSV/PNG/markdown output.

A study writes three files under ``<leaderboard_dir>/studies/`` (atomically):
``<study>-<task>.csv`` (one row per training run, the command on its first line as a
``#`` comment — read it with ``pandas.read_csv(path, comment="#")``), ``<study>-<task>.png``
(its plot) and ``<study>-<task>.md`` (the command and the summary table). Each training run
is an MLflow run nested under one parent run per study invocation.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import sys
from collections.abc import Iterator, Sequence
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


def current_command() -> str:
    """The command line that is running, as ``roma-bench ...`` when run through the CLI."""
    argv = list(sys.argv)
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

    return pd.read_csv(path, comment="#")


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

    fig, axes = plt.subplots(1, ncols, figsize=(5.5 * ncols, 4.2), squeeze=False)
    return fig, axes[0]


def primary_metric(task: str, learning_task: str) -> str:
    """The error a study reports: the task card's primary metric of ``learning_task``."""

    return load_card(task).primary_metric(learning_task)


def test_error(result: Any, config: TrainConfig, metric: str | None = None) -> float:
    """The clean test error of a finished run: its end-of-training scores, else re-evaluated."""
    metric = metric or primary_metric(config.task, config.learning_task)
    scores = dict(getattr(result, "metrics", {}) or {})
    if metric not in scores:
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
    job = TrainingJob(config, {tag("study"): study}, run_name, out_dir)
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
