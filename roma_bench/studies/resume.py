"""Which runs of a study's plan to train: resume from the CSV, train each config once.

A study resumes (:func:`train_missing`): a rerun of the same command keeps every row of its
CSV that finished (status ``ok``) for a run it plans, matched on the columns that identify
the run (the study's own, e.g. model, seed, σ, and
:data:`~roma_bench.studies.common.CONFIG_COLUMNS`), and trains only
the missing and failed runs. The CSV is rewritten after every run, so a crash loses nothing
written; it holds the rows of the command on its first line (rows of runs the command does
not plan are dropped, as a new command always did).

Two rows of one plan whose configs are the same ``roma-bench train`` command are trained
once (:func:`_same_training`); a row the task's board already trained takes the board
run's scores (:mod:`roma_bench.studies.board_runs`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roma_bench.limits import shard_position
from roma_bench.locks import file_lock
from roma_bench.studies.board_runs import board_twin_columns
from roma_bench.studies.common import StudyFiles, read_csv, train_in_study, write_csv
from roma_bench.tracking.runs import TrackedRun
from roma_bench.training.config import TrainConfig
from roma_bench.training.report import command_for
from roma_bench.training.runs import TrainFn, require_finished

__all__ = ["StudyRows", "StudyRun", "StudyTraining", "shard_owners", "train_missing"]


@dataclass(frozen=True)
class StudyRun:
    """One row of a study: the columns that identify it (``identity``), the config, the
    MLflow run name, and ``score(result, config)`` → the row's result columns.

    ``execute``: a row made of several runs (pretrain → fine-tune, scratch) trains them
    itself, ``execute(training)`` → the result columns, instead of ``config`` and ``score``.
    """

    identity: dict[str, Any]
    config: TrainConfig
    run_name: str
    score: Callable[[Any, TrainConfig], dict[str, Any]] | None = None
    execute: Callable[[StudyTraining], dict[str, Any]] | None = None


@dataclass(frozen=True)
class StudyTraining:
    """How a study trains: its name, the trainer, the tracking store and the parent run;
    ``train=False`` trains nothing (the outputs are written from the finished rows);
    ``shard=(i, n)``: train only shard ``i`` of ``n`` of the plan (:func:`train_missing`)."""

    study: str
    train_fn: TrainFn | None
    tracking_uri: str | None
    parent: TrackedRun | None
    train: bool = True
    shard: tuple[int, int] = (1, 1)


class StudyRows(list):
    """The rows :func:`train_missing` returns (a list of dicts, plan order) and ``waiting``:
    how many planned runs belong to other shards and have no finished row yet. A study
    whose rows wait writes no plot or summary (they would show part of the study): the
    shard that finishes last writes them."""

    waiting: int = 0


def train_missing(
    runs: Sequence[StudyRun],
    keys: Sequence[str],
    files: StudyFiles,
    command: str,
    training: StudyTraining,
) -> StudyRows:
    """Every run's row in plan order, training only the runs without a finished row.

    A run whose ``keys`` columns match a row of ``files.csv`` with status ``ok`` is not
    trained again: that row is kept. The others are trained one by one; a run that raises
    or does not finish gets the status ``failed: ...`` (and is retried by the next
    invocation). After each run the CSV is rewritten with every row known so far (kept,
    new, and earlier failed rows not yet retried), so a crash loses nothing written;
    finished rows outside this plan are not rewritten, and the old CSV is first copied
    aside (:func:`_keep_rows_outside_the_plan`). With ``training.train`` false nothing is
    trained: the finished rows alone are returned (a partial study's plot and summary).
    A run whose config another finished row of this plan already trained takes that row's
    result columns instead of training again (:func:`_same_training`).

    Shards: with ``training.shard = (i, n)`` only the runs of shard ``i`` are trained
    (:func:`shard_owners`: the plan split round-robin, the runs of one training config
    together), so that ``n`` processes started with the same command share the plan. Each
    rewrite of the CSV holds its file lock and merges the rows the other shards wrote
    meanwhile (:func:`_merge_into_csv`), so none is lost; ``waiting`` of the result counts
    the other shards' runs still without a finished row.
    """
    from tqdm.auto import tqdm

    position, count = shard_position(training.shard)
    index = position + 1
    earlier = _earlier_rows(files.csv, keys)
    _keep_rows_outside_the_plan(files.csv, earlier, {_key(r.identity, keys) for r in runs})
    rows: list[dict[str, Any] | None] = [earlier.get(_key(r.identity, keys)) for r in runs]
    commands = [command_for(run.config) if run.execute is None else None for run in runs]
    owners = shard_owners(commands, count)
    unfinished = [i for i, row in enumerate(rows) if row is None or row.get("status") != "ok"]
    todo = [i for i in unfinished if owners[i] == position]
    if len(unfinished) < len(runs):
        plan = f"training the other {len(todo)}" if training.train else "training none"
        print(f"{training.study} study: {len(runs) - len(unfinished)} of {len(runs)} runs "
              f"already finished in {files.csv}; {plan}", file=sys.stderr)  # fmt: skip
        rows = _merge_into_csv(runs, rows, keys, files.csv, command)
    if count > 1 and training.train:
        print(f"{training.study} study: shard {index}/{count} trains {len(todo)} of the "
              f"{len(unfinished)} runs without a finished row", file=sys.stderr)  # fmt: skip
    if not training.train:
        if unfinished:
            print(f"{training.study} study: {len(unfinished)} of {len(runs)} runs have no "
                  "finished row and were not trained (--no-train); the outputs show the others",
                  file=sys.stderr)  # fmt: skip
        return StudyRows(r for r in rows if r is not None and r.get("status") == "ok")
    for i in tqdm(todo, desc=f"{training.study} study", dynamic_ncols=True):
        twin = _same_training(commands, rows, i)
        rows[i] = (
            _twin_row(runs, rows, i, twin) if twin is not None else _train_row(runs[i], training)
        )
        rows = _merge_into_csv(runs, rows, keys, files.csv, command)
    if count > 1:
        with file_lock(files.csv):
            rows = _merged(runs, rows, keys, _earlier_rows(files.csv, keys))
    result = StudyRows(r for r in rows if r is not None)
    result.waiting = sum(
        1 for i, row in enumerate(rows)
        if owners[i] != position and (row is None or row.get("status") != "ok")
    )  # fmt: skip
    if result.waiting:
        print(f"{training.study} study: shard {index}/{count} is done; {result.waiting} runs "
              "of other shards have no finished row yet, so the plot and summary are left to "
              "the shard that finishes last (or to a rerun with --no-train)", file=sys.stderr)  # fmt: skip
    return result


def shard_owners(commands: Sequence[str | None], count: int) -> list[int]:
    """The shard (0-based) of each run: run ``k`` goes to shard ``k mod count``, except that
    a run with the same training command as an earlier run (``commands[k]``, ``None`` for a
    run made of several trainings) goes where that run went, so that the later row takes
    the earlier one's result (:func:`_same_training`) instead of a second shard training it
    again."""
    first: dict[str, int] = {}
    owners = []
    for k, command in enumerate(commands):
        if command is not None:
            k = first.setdefault(command, k)
        owners.append(k % count)
    return owners


def _merge_into_csv(
    runs: Sequence[StudyRun],
    rows: Sequence[dict[str, Any] | None],
    keys: Sequence[str],
    path: Path,
    command: str,
) -> list[dict[str, Any] | None]:
    """Rewrite the CSV at ``path`` (under its file lock) with ``rows`` merged with the rows
    it holds now (:func:`_merged`: what other shards wrote since); returns the merged rows."""
    with file_lock(path):
        merged = _merged(runs, rows, keys, _earlier_rows(path, keys))
        write_csv([r for r in merged if r is not None], path, command)
    return merged


def _merged(
    runs: Sequence[StudyRun],
    rows: Sequence[dict[str, Any] | None],
    keys: Sequence[str],
    on_disk: Mapping[tuple[Any, ...], dict[str, Any]],
) -> list[dict[str, Any] | None]:
    """Per planned run: this process's row when it finished, else the CSV's when that
    finished (another shard's), else whichever exists (this process's first: a fresh
    failure)."""
    merged = []
    for run, mine in zip(runs, rows, strict=True):
        theirs = on_disk.get(_key(run.identity, keys))
        if mine is not None and mine.get("status") == "ok":
            merged.append(mine)
        elif theirs is not None and theirs.get("status") == "ok":
            merged.append(theirs)
        else:
            merged.append(mine if mine is not None else theirs)
    return merged


def _same_training(
    commands: Sequence[str | None], rows: Sequence[dict[str, Any] | None], index: int
) -> int | None:
    """Another row of this plan, finished, that trained exactly ``runs[index]``'s config.

    Two rows of one study can be one training: the data axis's fraction-1 arm and the
    cross-card axis's run of the same card, say. Both run ``roma-bench train`` with the same
    command (``commands``: :func:`~roma_bench.training.report.command_for` of each run's
    config, the same model, data, seed, budget and every field), so the second row takes the
    first one's result columns instead of training the same minutes again. Rows made of
    several runs (``execute``, command ``None``) never match.
    """
    wanted = commands[index]
    if wanted is None:
        return None
    for other, (command, row) in enumerate(zip(commands, rows, strict=True)):
        if other != index and command == wanted and row is not None and row.get("status") == "ok":
            return other
    return None


def _twin_row(
    runs: Sequence[StudyRun], rows: Sequence[dict[str, Any] | None], index: int, twin: int
) -> dict[str, Any]:
    """``runs[index]``'s identity with the result columns of the finished row ``twin``."""
    done = rows[twin]
    assert done is not None
    result = {k: v for k, v in done.items() if k not in runs[twin].identity}
    return {**runs[index].identity, **result, "status": "ok"}


def _keep_rows_outside_the_plan(
    path: Path, earlier: Mapping[tuple[Any, ...], dict[str, Any]], planned: set[tuple[Any, ...]]
) -> Path | None:
    """Copy ``path`` aside before it is rewritten when it holds finished rows this plan does
    not include (another seed list, model list or budget): ``<name>.<UTC time>.bak``.

    The rewritten CSV describes this invocation alone; the copy keeps what was trained
    before. Returns the copy's path (``None`` when nothing would be lost).
    """
    outside = [
        row for key, row in earlier.items() if key not in planned and row.get("status") == "ok"
    ]
    if not outside:
        return None
    import shutil
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    backup = path.with_name(f"{path.name}.{stamp}.bak")
    shutil.copy2(path, backup)
    print(f"warning: {path} has {len(outside)} finished row(s) outside this plan; they are not "
          f"in the rewritten CSV, and the old CSV is kept as {backup}", file=sys.stderr)  # fmt: skip
    return backup


def _train_row(run: StudyRun, training: StudyTraining) -> dict[str, Any]:
    row = dict(run.identity)
    try:
        if run.execute is not None:
            row.update(run.execute(training), status="ok")
            return row
        reused = board_twin_columns(run, training)
        if reused is not None:
            row.update(reused, status="ok")
            return row
        result = train_in_study(
            run.config, training.train_fn, tracking_uri=training.tracking_uri,
            parent=training.parent, study=training.study, run_name=run.run_name,
        )  # fmt: skip
        require_finished(result, "run")
        if run.score is None:
            raise TypeError(f"study run {run.run_name}: it needs score or execute")
        row.update(run.score(result, run.config), status="ok")
    except Exception as err:  # one failing run must not lose the others' results
        row.update(status=f"failed: {type(err).__name__}: {err}"[:300])
    return row


def _earlier_rows(path: Path, keys: Sequence[str]) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The rows of an earlier CSV at ``path`` by their key; a finished row wins a tie."""
    if not path.is_file():
        return {}
    import pandas as pd

    try:
        frame = read_csv(path)
    except pd.errors.EmptyDataError:
        return {}
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in frame.to_dict("records"):
        row = {k: (None if _missing(v) else v) for k, v in row.items()}
        key = _key(row, keys)
        if key not in found or row.get("status") == "ok":
            found[key] = row
    return found


def _key(row: Mapping[str, Any], keys: Sequence[str]) -> tuple[Any, ...]:
    """The values of ``keys`` in ``row``, equal whether read back from the CSV or not."""
    return tuple(_key_value(row.get(k)) for k in keys)


def _key_value(value: Any) -> Any:
    if _missing(value):
        return None
    try:
        number = float(value)  # "2.0" read back as 2.0; 0.0003 written as %.6g
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else float(f"{number:.6g}")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
