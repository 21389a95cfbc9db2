"""A study run that the task's board already trained: its result file instead of a new run.

A study row trains one :class:`~roma_bench.training.config.TrainConfig`. When the task's
board (``<leaderboards>/<task>/runs``, :func:`roma_bench.results.results_dir`) holds a
result file that

- finished (status ``FINISHED``) with test scores, trained here (not ``external``, verified),
- records exactly the ``roma-bench train`` command of that config
  (:func:`roma_bench.training.report.command_for`: model, task, size, seed, steps and every
  field that differs from its default, so the same budget, rate, warm-up, widths, noise and
  training-node fraction; model overrides equal to the size preset's values and a noise
  override equal to the card's σ count as defaults), and
- was trained on the same data (its ``data_checksum`` is the checksum of the task store the
  study would train on),

then that run *is* the study's run, and training it again would cost the same minutes for
the same numbers: the row takes the board run's test scores, parameter count and MLflow run
id (:func:`board_twin`). Examples: the width-factor-1 arm of a parameter-scaling study, the
σ = 0 arm of a noise study, the joint arm of ROMA's transfer study, all at the card's budget.

A run with early stopping is never matched (the result file does not record the steps it
ran), and neither is a study given its own trainer (``train_fn``): a board run was trained by
the harness's trainer.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roma_bench.cards import load_card
from roma_bench.data.store import StoreError, TaskStore
from roma_bench.leaderboard import LeaderboardError, RunRecord
from roma_bench.paths import task_data_path
from roma_bench.registry import get_model_class
from roma_bench.results import read_result, results_dir
from roma_bench.sweeps.space import size_values
from roma_bench.training.config import TrainConfig
from roma_bench.training.report import command_for

if TYPE_CHECKING:
    from roma_bench.studies.resume import StudyRun, StudyTraining

__all__ = ["BoardRun", "board_twin", "board_twin_columns"]


@dataclass(frozen=True)
class BoardRun:
    """A board's finished run, read the way a study's score reads a training result."""

    run_id: str
    num_parameters: int
    steps_done: int
    #: the run's test metrics (what :func:`roma_bench.studies.common.test_error` reads)
    metrics: dict[str, float] = field(default_factory=dict)
    #: the result file it came from
    source: Path | None = None
    status: str = "FINISHED"
    #: a board run's checkpoint is not kept with its result file: a score that is not in
    #: ``metrics`` cannot be computed from it (the study trains the run instead)
    checkpoint: None = None


def _store_checksum(task: str) -> str | None:
    """The data checksum of ``task``'s store, ``None`` when there is no readable store."""
    path = task_data_path(load_card(task).name)
    if not path.is_file():
        return None
    try:
        with TaskStore(path) as store:
            return store.checksum
    except StoreError:
        return None


def _canonical(config: TrainConfig) -> TrainConfig:
    """``config`` without the settings that restate a default: model overrides equal to its
    size preset's values (a width factor of 1 sets every width to the preset's) and a noise
    override equal to the card's σ (a noise study's σ = 0 on a clean card)."""
    preset = size_values(get_model_class(config.model_name), config.size)
    model = {k: v for k, v in config.model.items() if k not in preset or preset[k] != v}
    noise = config.noise
    if noise is not None and float(noise) == float(load_card(config.task).noise):
        noise = None
    return config.model_copy(update={"model": model, "noise": noise})


def _matches(record: RunRecord, command: str, checksum: str, steps: int) -> bool:
    return (
        record.command == command
        and record.status == "FINISHED"
        and bool(record.metrics)
        and record.verified
        and not record.external
        and record.data_checksum == checksum
        and record.steps == steps
    )


def board_twin(config: TrainConfig, folder: Path | None = None) -> BoardRun | None:
    """The board run of ``config``'s task that trained exactly ``config`` on the same data
    (the module docstring's conditions; the latest when several did), else ``None``.

    ``folder``: the leaderboards folder (default :func:`roma_bench.paths.leaderboard_dir`).
    """
    if config.early_stopping_patience is not None:
        return None
    runs = results_dir(load_card(config.task).name, folder)
    if not runs.is_dir():
        return None
    checksum = _store_checksum(config.task)
    if checksum is None:
        return None
    command = command_for(_canonical(config))
    found: list[tuple[int, str, Path, RunRecord]] = []
    for path in sorted(runs.glob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            record = read_result(path)
        except LeaderboardError as err:
            print(f"warning: {err}; not considered for reuse", file=sys.stderr)
            continue
        if _matches(record, command, checksum, config.steps):
            found.append((record.end_time, record.run_id, path, record))
    if not found:
        return None
    _, _, path, record = max(found, key=lambda item: (item[0], item[1]))
    return BoardRun(
        run_id=record.run_id,
        num_parameters=int(record.num_parameters),
        steps_done=int(record.steps),
        metrics={k: float(v) for k, v in record.metrics.items()},
        source=path,
    )


def board_twin_columns(run: StudyRun, training: StudyTraining) -> dict[str, Any] | None:
    """The result columns of study row ``run`` from its :func:`board_twin`, or ``None`` when
    the run must be trained: no twin, a study with its own trainer, or a score the board run
    did not record."""
    if training.train_fn is not None or run.score is None:
        return None
    twin = board_twin(run.config)
    if twin is None:
        return None
    try:
        columns = run.score(twin, run.config)
    except KeyError:  # a test metric the board run did not record: train the run
        return None
    print(f"{training.study} study: {run.run_name} is board run {twin.run_id} (same train "
          f"command, same data; {twin.source}): not trained again", file=sys.stderr)  # fmt: skip
    return columns
