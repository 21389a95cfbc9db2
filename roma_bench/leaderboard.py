"""Leaderboards regenerated from per-run result files (never typed by hand).

Each leaderboard run writes one result file (:mod:`roma_bench.results`, from its MLflow
run); the boards aggregate those files, so runs of different days and machines add up.

``leaderboards/<task>.csv`` and ``leaderboards/<task>.md`` hold one row per
(learning task, model, size): parameter count, every test metric as mean ± std
over seeds (sample std, ddof = 1; OGB rule: seeds are never tuned), the seeds,
the mean training time, the peak memory, the hardware, the task version and the
exact command. Only finished runs count (the latest per seed); runs of another
task version or data checksum are refused, never mixed.

Ranking: per learning task, rows are ranked by the task card's primary metric
(``metrics.primary.<learning task>``, offset-free; lower is better). Beside it,
from the primary's seed means ``e``: the skill vs persistence ``1 − e/e_persistence``
(0 for persistence, 1 for a perfect forecast, < 0 worse than persistence) and the
ratio to the least-squares autoregression floor ``e/e_ar`` (< 1 beats ``ar``). The
``oracle`` (true equations from the true state) is a reference row: shown, never
ranked. Rows whose primary mean ± std overlaps the best's share rank 1, shown as
``1 (tie)`` and in the CSV's ``tied_with_best`` column. ``still_improving`` = ``k/n``:
``k`` of the ``n`` runs with a recorded validation curve were still improving at the end of
their budget (:func:`roma_bench.convergence.still_improving`), listed under the table. sMSPE
is the ROMA paper's metric, shown so results compare with the paper; it never ranks. The
board's files (CSV and Markdown page) are written by :mod:`roma_bench.board_files`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from roma_bench.aggregate import mean_std
from roma_bench.convergence import improving_runs
from roma_bench.metric_names import BOARD_METRICS as METRICS
from roma_bench.ranking import (
    card_primary_metrics,
    rank_rows,
)
from roma_bench.tracking.runs import quiet_mlflow_logging, resolve_tracking_uri
from roma_bench.tracking.tags import tag

LEADERBOARD_TAG = tag("leaderboard")
COMMAND_TAG = tag("leaderboard_command")


class LeaderboardError(ValueError):
    """Runs that cannot be put in one table (mixed task versions or data), or no runs at all."""


@dataclass
class RunRecord:
    """What a leaderboard needs from one tracked run."""

    run_id: str
    model: str
    size: str
    seed: int
    learning_task: str
    task_version: str
    data_checksum: str
    status: str
    start_time: int
    num_parameters: int
    train_time: float
    peak_memory_mb: float
    hardware: str
    command: str
    steps: int = 0
    leaderboard_command: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    code_commit: str = ""
    #: scored from submitted predictions (``leaderboard add``), not trained by the harness
    external: bool = False
    #: its scores were computed here; an unverified row is shown, never ranked
    verified: bool = True
    #: external runs: SHA-256 of the predictions file the scores were computed from
    predictions_sha256: str = ""
    #: ``[[step, val_loss], …]``: the run's validation curve (empty: not recorded)
    validation_curve: list[list[float]] = field(default_factory=list)
    #: ms since the epoch when the run ended (0: not recorded, older files)
    end_time: int = 0
    #: ``[[from, to], …]`` ms since the epoch: each stop of a run that was cut off and
    #: continued from its last checkpoint, from that checkpoint to the continuation (empty:
    #: never cut off, or not recorded)
    stopped: list[list[int]] = field(default_factory=list)

    @classmethod
    def from_run(cls, run: Any) -> RunRecord:
        tags, data = run.data.tags, run.data.metrics
        gpu = float(tags.get(tag("gpu_peak_memory_mb"), 0) or 0)
        return cls(
            run_id=run.info.run_id,
            model=tags.get(tag("model"), "?"),
            size=tags.get(tag("size"), "?"),
            seed=int(tags.get(tag("seed"), -1)),
            learning_task=tags.get(tag("learning_task"), "forecast"),
            task_version=tags.get(tag("task_version"), "?"),
            data_checksum=tags.get(tag("data_checksum"), "?"),
            status=run.info.status,
            start_time=int(run.info.start_time or 0),
            end_time=int(run.info.end_time or 0),
            num_parameters=int(tags.get(tag("num_parameters"), 0)),
            train_time=float(tags.get(tag("wall_time_s"), "nan")),
            peak_memory_mb=gpu if gpu > 0 else float(tags.get(tag("cpu_peak_memory_mb"), "nan")),
            hardware=tags.get("hardware", tags.get("device_name", "?")),
            command=tags.get(tag("command"), ""),
            steps=int(run.data.params.get("steps", 0)),
            leaderboard_command=tags.get(COMMAND_TAG, ""),
            metrics={k[5:]: v for k, v in data.items() if k.startswith("test_")},
            code_commit=tags.get("git_commit", ""),
            stopped=stopped_intervals(tags.get(tag("stopped_ms"), "")),
        )


def fetch_runs(
    task: str, tracking_uri: str | None = None, board: str | None = None
) -> list[RunRecord]:
    """Every run of experiment ``task`` tagged ``roma.leaderboard=<board or task>`` (any status)."""
    import mlflow

    quiet_mlflow_logging()
    client = mlflow.MlflowClient(resolve_tracking_uri(tracking_uri))
    experiment = client.get_experiment_by_name(task)
    if experiment is None:
        return []
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{LEADERBOARD_TAG}` = '{board or task}'",
            max_results=1000,
            page_token=token,
        )
        runs.extend(tracked_record(client, run) for run in page)
        token = page.token
        if not token:
            return runs


def tracked_record(client: Any, run: Any) -> RunRecord:
    """The :class:`RunRecord` of an MLflow ``run``, its validation curve included."""
    record = RunRecord.from_run(run)
    record.validation_curve = validation_curve(client, record.run_id)
    return record


def validation_curve(client: Any, run_id: str) -> list[list[float]]:
    """``[[step, val_loss], …]`` of MLflow run ``run_id`` in step order (``[]`` without one)."""
    history = client.get_metric_history(run_id, "val_loss")
    return [[float(m.step), float(m.value)] for m in sorted(history, key=lambda m: m.step)]


@dataclass
class Leaderboard:
    """The rows of one task's leaderboard and what they were computed from.

    ``primary``: learning task → the metric its rows are ranked by (the card's choice).
    """

    task: str
    task_version: str
    data_checksum: str
    rows: list[dict[str, Any]]
    excluded: list[RunRecord] = field(default_factory=list)
    primary: dict[str, str] = field(default_factory=dict)
    #: seconds from the first run's start to the last run's end (NaN: an end not recorded)
    wall_time_s: float = float("nan")
    #: the runs' training times added up, seconds
    train_time_total_s: float = float("nan")
    #: finished runs the times are over
    timed_runs: int = 0
    #: of those, runs that were cut off and continued from a checkpoint
    continued_runs: int = 0
    #: ``{code commit: runs}`` of the counted runs (``git_commit`` tag; "" when unknown)
    code_commits: dict[str, int] = field(default_factory=dict)


def stopped_intervals(text: str) -> list[list[int]]:
    """The ``roma.stopped_ms`` tag (JSON ``[[from, to], …]``) as a list; ``[]`` when it is
    absent or not such a list."""
    try:
        value = json.loads(text) if text else []
        return [[int(begin), int(end)] for begin, end in value]
    except (TypeError, ValueError):
        return []


def active_intervals(record: RunRecord) -> list[tuple[int, int]]:
    """``[start, end]`` of a run (ms) less its stops: the stretches a process worked on it."""
    pieces = [(record.start_time, record.end_time)]
    for begin, finish in sorted(record.stopped):
        pieces = [
            piece
            for start, end in pieces
            for piece in ((start, min(end, begin)), (max(start, finish), end))
            if piece[1] > piece[0]
        ]
    return pieces


def union_length(intervals: Iterable[tuple[int, int]]) -> int:
    """Length of the union of ``[start, end]`` intervals (the time covered by any of them)."""
    total, reach = 0, None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total, reach = total + end - start, end
        elif end > reach:
            total, reach = total + end - reach, end
    return total


def board_times(records: Sequence[RunRecord]) -> tuple[float, float]:
    """``(wall, total)`` seconds of a board's finished runs: wall = the time during which any
    of them was running — from the first run's start to the last run's end, less the
    stretches when none was (a stop between sessions of a run continued from its checkpoint
    is not running; shards side by side overlap); NaN when a run has no recorded end —, total
    = the sum of their training times."""
    if not records:
        return float("nan"), float("nan")
    total = float(sum(r.train_time for r in records))
    if any(r.end_time <= 0 for r in records):
        return float("nan"), total
    return union_length(i for r in records for i in active_intervals(r)) / 1000, total


def check_versions(
    records: Iterable[RunRecord], version: str, checksum: str | None, exclude: bool = False
) -> tuple[list[RunRecord], list[RunRecord]]:
    """Split runs into those of task ``version``/``checksum`` and the others; refuse the others.

    ``exclude=False`` raises :class:`LeaderboardError` naming the mismatched runs.
    """
    keep, other = [], []
    for record in records:
        same = record.task_version == version and (
            checksum is None or record.data_checksum == checksum
        )
        (keep if same else other).append(record)
    if other and not exclude:
        found = sorted({(r.task_version, r.data_checksum[:12]) for r in other})
        listed = ", ".join(f"v{v} (data {c}…)" for v, c in found)
        raise LeaderboardError(
            f"refusing to mix task versions: {len(other)} run(s) were made on {listed}, "
            f"the leaderboard is for v{version}"
            + (f" (data {checksum[:12]}…)" if checksum else "")
            + f"; offending runs: {', '.join(r.run_id for r in other[:5])}"
            + ("…" if len(other) > 5 else "")
            + ". Delete them or pass --only-current to leave them out."
        )
    return keep, other


def build_leaderboard(
    task: str,
    records: Sequence[RunRecord],
    version: str | None = None,
    checksum: str | None = None,
    exclude_mismatched: bool = False,
    primary: dict[str, str] | None = None,
) -> Leaderboard:
    """Aggregate finished runs into rows; see the module docstring for the rules.

    ``primary``: learning task → ranking metric; default: the task card's
    (:func:`card_primary_metrics`).
    """
    if not records:
        raise LeaderboardError(
            f"no leaderboard result files for task {task!r}; "
            f"run `roma-bench leaderboard run --task {task}` first"
        )
    latest = max(records, key=lambda r: r.start_time)
    version = version or latest.task_version
    checksum = checksum or latest.data_checksum
    keep, other = check_versions(records, version, checksum, exclude_mismatched)
    per_seed: dict[tuple, RunRecord] = {}
    failed: dict[tuple, int] = defaultdict(int)
    for record in sorted(keep, key=lambda r: r.start_time):
        key = (record.learning_task, record.model, record.size, record.steps)
        if record.status == "FINISHED" and record.metrics:
            per_seed[(*key, record.seed)] = record  # the latest run of each seed wins
        elif record.status == "FAILED":
            failed[key] += 1
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for (*key, _seed), record in sorted(per_seed.items(), key=lambda kv: kv[0]):
        groups[tuple(key)].append(record)
    rows = []
    for (learning_task, model, size, steps), runs in groups.items():
        row: dict[str, Any] = {
            "learning_task": learning_task, "model": model, "size": size, "steps": steps,
            "params": runs[0].num_parameters, "seeds": len(runs),
            "seed_list": " ".join(str(r.seed) for r in runs),
            "failed_runs": failed.get((learning_task, model, size, steps), 0),
            "verified": all(r.verified for r in runs),
            "external": any(r.external for r in runs),
        }  # fmt: skip
        for metric in METRICS:
            values = [r.metrics[metric] for r in runs if metric in r.metrics]
            if values:
                row[f"{metric}_mean"], row[f"{metric}_std"] = mean_std(values)
        row["train_time_s"] = mean_std([r.train_time for r in runs])[0]
        row["peak_memory_mb"] = max(r.peak_memory_mb for r in runs)
        row["hardware"] = runs[-1].hardware
        row["task_version"] = version
        row["data_checksum"] = checksum
        row["command"] = runs[-1].leaderboard_command or runs[-1].command
        row["run_ids"] = " ".join(r.run_id for r in runs)
        flagged, judged = improving_runs(r.validation_curve for r in runs)
        row["still_improving"] = f"{flagged}/{judged}" if judged else ""
        rows.append(row)

    primary = dict(primary) if primary is not None else card_primary_metrics(task)
    missing = sorted({r["learning_task"] for r in rows} - set(primary))
    if missing:
        raise LeaderboardError(f"no primary metric for learning task(s) {', '.join(missing)}")
    rows = rank_rows(rows, primary)
    counted = list(per_seed.values())
    wall, total = board_times(counted)
    commits = Counter(r.code_commit for r in counted)
    return Leaderboard(task, version, checksum, rows, excluded=other, primary=primary,
                       wall_time_s=wall, train_time_total_s=total, timed_runs=len(counted),
                       continued_runs=sum(bool(r.stopped) for r in counted),
                       code_commits=dict(commits.most_common()))  # fmt: skip
