"""Per-run result files: one small JSON file per finished or failed leaderboard run.

Every run of ``roma-bench leaderboard run`` (:func:`run_leaderboard`) writes
``<leaderboards>/<board>/runs/<file>.json`` (``<leaderboards>`` = ``--out`` or
:func:`roma_bench.paths.leaderboard_dir`), atomically
(written beside, then renamed), named by learning task, model, size, seed and MLflow run id,
so parallel runs, machines and merges never collide. The boards aggregate these files
(:func:`read_results` → :func:`roma_bench.leaderboard.build_leaderboard`), and a board
that was interrupted resumes: ``leaderboard run`` skips the (model, size, seed) that
already have a finished file (:func:`finished_keys`).

A file holds (format ``RESULT_FORMAT``): ``task``, ``model``, ``size``, ``seed``, ``steps``,
``learning_task``, ``metrics`` (every test metric), ``num_parameters``, ``train_time``
(seconds), ``peak_memory_mb``, ``hardware``, ``task_version``, ``data_checksum``,
``code_commit``, ``command`` (the exact training command), ``leaderboard_command``,
``run_id`` (the MLflow run id), ``status`` (FINISHED or FAILED), ``start_time`` and
``end_time`` (ms since the epoch; ``end_time`` 0 in older files), ``external`` (submitted
predictions, not trained here), ``predictions_sha256``
(external: the predictions file scored) and ``verified`` (its scores were computed here, from
a model or from predictions; unverified rows are shown, never ranked) and
``validation_curve`` (``[[step, val_loss], …]``, the MLflow ``val_loss`` history; absent in
older files, read as ``[]``: a board can then not tell whether the run was still improving).
An external file
without ``predictions_sha256`` is read as unverified whatever it claims.

``roma-bench leaderboard add`` (:func:`add_external`) scores one predictions file per seed
with :func:`roma_bench.predictions.evaluate_predictions` and writes their files.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from roma_bench.budgets import Budget, tuned_learning_rates
from roma_bench.cards import load_card
from roma_bench.files import atomic_write_text
from roma_bench.leaderboard import (
    COMMAND_TAG,
    LEADERBOARD_TAG,
    LeaderboardError,
    RunRecord,
    fetch_runs,
    tracked_record,
)
from roma_bench.limits import shard_position
from roma_bench.paths import leaderboard_dir
from roma_bench.predictions import evaluate_predictions_file
from roma_bench.registry import get_model_class
from roma_bench.tracking.environment import git_commit
from roma_bench.tracking.runs import quiet_mlflow_logging, resolve_tracking_uri
from roma_bench.training.resolve import build_train_config
from roma_bench.training.runs import TrainingJob, run_trainings

RESULT_FORMAT = 1

#: What identifies a finished leaderboard entry: (learning task, model, size, steps, seed).
EntryKey = tuple[str, str, str, int, int]


def results_dir(board: str, folder: str | Path | None = None) -> Path:
    """``<folder or leaderboard_dir()>/<board>/runs``: where ``board``'s result files live."""

    return (Path(folder) if folder is not None else leaderboard_dir()) / board / "runs"


def result_path(record: RunRecord, folder: Path) -> Path:
    """The file of ``record`` in ``folder`` (one per run: the run id is in the name)."""
    stem = f"{record.learning_task}-{record.model}-{record.size}-seed{record.seed}-{record.run_id}"
    return folder / (re.sub(r"[^A-Za-z0-9_.=-]", "_", stem) + ".json")


def to_json(record: RunRecord, task: str) -> str:
    """The text of ``record``'s result file (keys in the module docstring)."""
    data = {"format": RESULT_FORMAT, "task": task, **dataclasses.asdict(record)}
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def write_result(record: RunRecord, task: str, folder: Path) -> Path:
    """Write ``record``'s result file into ``folder`` atomically; returns its path."""
    path = result_path(record, Path(folder))
    atomic_write_text(path, to_json(record, task))
    return path


def read_result(path: Path) -> RunRecord:
    """One result file as a :class:`RunRecord`; a damaged file is refused naming it."""
    names = {f.name for f in dataclasses.fields(RunRecord)}
    try:
        data = json.loads(Path(path).read_text())
        if data.get("format") != RESULT_FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {RESULT_FORMAT}")
        record = RunRecord(**{k: v for k, v in data.items() if k in names})
    except (OSError, ValueError, TypeError) as err:
        raise LeaderboardError(f"result file {path}: unreadable ({err})") from None
    if record.external and not record.predictions_sha256:
        record.verified = False  # scores nobody here computed from predictions
    return record


def read_results(folder: Path) -> list[RunRecord]:
    """Every result file in ``folder`` (none when it does not exist), in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return [read_result(p) for p in sorted(folder.glob("*.json")) if not p.name.startswith(".")]


def finished_keys(records: Iterable[RunRecord]) -> set[EntryKey]:
    """The (learning task, model, size, steps, seed) that have a finished, scored run."""
    return {
        (r.learning_task, r.model, r.size, r.steps, r.seed)
        for r in records
        if r.status == "FINISHED" and r.metrics
    }


def record_of_run(run_id: str, tracking_uri: str | None = None) -> RunRecord:
    """The :class:`RunRecord` of MLflow run ``run_id`` (its tags, params and test metrics)."""
    import mlflow

    quiet_mlflow_logging()
    client = mlflow.MlflowClient(resolve_tracking_uri(tracking_uri))
    return tracked_record(client, client.get_run(run_id))


def record_run(run_id: str, task: str, tracking_uri: str | None, folder: Path) -> Path:
    """Write the result file of MLflow run ``run_id`` (a just finished or failed run)."""
    return write_result(record_of_run(run_id, tracking_uri), task, folder)


def export_tracked_runs(
    task: str, tracking_uri: str | None, board: str | None, folder: Path
) -> list[Path]:
    """Write the result file of every run in MLflow tagged for ``board`` (or ``task``).

    For boards whose runs predate result files; writing again is harmless (same name).
    """

    return [write_result(r, task, folder) for r in fetch_runs(task, tracking_uri, board)]


def add_external(
    task: str,
    predictions: list[str | Path],
    name: str,
    folder: Path,
    command: str = "",
    num_parameters: int = 0,
) -> list[Path]:
    """Score one test-split predictions file per seed (file ``i`` is seed ``i``) and write
    their result files, marked external and verified; returns the paths written.

    Every file is checked (task, split, data checksum, shape, finite values) before any
    result is written, so a bad file leaves the board unchanged.
    """
    import hashlib
    import time

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise LeaderboardError(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    records = []
    for seed, path in enumerate(predictions):
        scores, store = evaluate_predictions_file(path, task, "test")
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        records.append(
            RunRecord(
                run_id=f"external-{digest[:16]}",
                model=name,
                size="external",
                seed=seed,
                learning_task="forecast",
                task_version=str(store.version),
                data_checksum=str(store.checksum),
                status="FINISHED",
                start_time=int(time.time() * 1000),
                num_parameters=num_parameters,
                train_time=float("nan"),
                peak_memory_mb=float("nan"),
                hardware="external",
                command=command,
                steps=0,
                leaderboard_command=command,
                metrics=scores,
                code_commit=git_commit(),
                external=True,
                verified=True,
                predictions_sha256=digest,
            )
        )
    return [write_result(record, task, folder) for record in records]


def run_leaderboard(
    task: str,
    models: Sequence[str],
    sizes: Sequence[str] = ("tiny",),
    board: str | None = None,
    seeds: int = 3,
    steps: int | None = None,
    learning_task: str = "forecast",
    tracking_uri: str | None = None,
    command: str = "",
    device: str = "auto",
    progress: bool = True,
    overrides: Sequence[str] = (),
    folder: str | Path | None = None,
    shard: tuple[int, int] = (1, 1),
) -> list[Any]:
    """Train and score every (model, size, seed) on ``task``; returns the new TrainResults.

    ``shard=(i, n)`` runs only shard ``i`` of ``n`` (:func:`board_entries`), so ``n``
    machines or a job array fill one board; ``leaderboard show`` then assembles it.

    ``steps=None``: the card's standard budget (:func:`budget_overrides`: its steps, warm-up
    and learning rate, each model's tuned rate when the task's tuning file has one; the
    TrainConfig defaults on a card without a budget); other ``steps``: the same schedule
    shape and rates over that many steps; ``--set`` overrides come last.

    Seeds are ``0 … seeds-1``; each run is tagged for the task's leaderboard and writes its
    result file under ``results_dir(board or task, folder)`` (:mod:`roma_bench.results`).
    A (model, size, seed) with a finished result file at these steps is skipped, so an
    interrupted board resumes; the run it was training continues from its last checkpoint
    (:mod:`roma_bench.training.unfinished`). A run that fails (e.g. diverges) is recorded as FAILED and
    the others go on.
    """

    for name in models:
        get_model_class(name)  # fail fast on a typo, before any training
    runs_folder = results_dir(board or task, folder)
    done = finished_keys(read_results(runs_folder))
    tags = {LEADERBOARD_TAG: board or task, COMMAND_TAG: command}
    schedule = budget_overrides(task, folder, steps)

    def jobs() -> Iterator[TrainingJob]:
        for model, size, seed in board_entries(models, sizes, seeds, shard):
            fields = {"model_name": model, "task": task, "size": size, "seed": seed,
                      "steps": steps, "learning_task": learning_task, "device": device}  # fmt: skip
            config = build_train_config(None, fields, [*schedule(model), *overrides])
            # finished earlier: its result file stands; cut off halfway: it continues
            if (learning_task, model, size, config.steps, seed) not in done:
                yield TrainingJob(config, tags, resumable=True)

    def record(job: TrainingJob, result: Any) -> None:
        record_run(result.run_id, task, tracking_uri, runs_folder)

    return run_trainings(jobs(), tracking_uri=tracking_uri, progress=progress, on_result=record)


def budget_overrides(
    task: str, folder: str | Path | None = None, steps: int | None = None
) -> Callable[[str], list[str]]:
    """``model → --set overrides`` that train ``model`` at ``task``'s card budget: its
    steps and warm-up, and the learning rate the tuning file chose for the model in the
    sweep at the card's ``tuned_at`` steps (the card's ``lr`` for a model not in it);
    none for a card without a budget.

    ``steps``: the same schedule shape over ``steps`` instead (warm-up scaled by
    ``steps / budget.steps``, rounded), with the same tuned rates, so a shorter or longer
    study than the board still trains every model at the rate the board gives it.
    """
    card = load_card(task)
    if card.budget is None:
        return lambda model: []
    budget = Budget.of_card(card)
    budget = budget if steps is None else budget.over(steps)
    tuned = tuned_learning_rates(task, None if folder is None else Path(folder),
                                 card.budget.tuning_steps)  # fmt: skip

    def overrides(model: str) -> list[str]:
        return [f"steps={budget.steps}", f"optim.warmup_steps={budget.warmup_steps}",
                f"optim.lr={tuned.get(model, budget.lr)!r}"]  # fmt: skip

    return overrides


def board_entries(
    models: Sequence[str], sizes: Sequence[str], seeds: int, shard: tuple[int, int] = (1, 1)
) -> list[tuple[str, str, int]]:
    """The (model, size, seed) runs of shard ``i`` of ``n``: entry ``k`` of the board's
    model-major order belongs to shard ``k mod n + 1``, so shards are disjoint, together
    cover the board, and each gets every model's seeds spread evenly."""
    position, count = shard_position(shard)
    everything = [(m, s, seed) for m in models for s in sizes for seed in range(seeds)]
    return [entry for k, entry in enumerate(everything) if k % count == position]
