"""A board's two files: ``leaderboards/<task>.csv`` and its Markdown page ``<task>.md``.

:func:`write_leaderboard` writes both atomically from a :class:`~roma_bench.leaderboard.
Leaderboard` (:func:`~roma_bench.leaderboard.build_leaderboard`): the CSV with one column
per field and ``<metric>_mean`` / ``<metric>_std`` per metric (:func:`to_csv`), the page
with the budget paragraph, the measured time, one table per learning task, the verdict
sentence and the commands (:func:`to_markdown`).
"""

from __future__ import annotations

import datetime as _dt
import math
from pathlib import Path
from typing import Any

from roma_bench.budget_pages import budget_paragraph
from roma_bench.files import atomic_write_text
from roma_bench.leaderboard import Leaderboard
from roma_bench.metric_names import BOARD_METRICS as METRICS
from roma_bench.paths import leaderboard_dir
from roma_bench.ranking import UNRANKED_MODELS, format_rank, format_ratio, format_skill

__all__ = ["METRIC_TITLES", "to_csv", "to_markdown", "verdict", "write_leaderboard"]

#: Column titles of the Markdown tables where the metric name alone would mislead.
METRIC_TITLES = {"smspe": "sMSPE (ROMA paper)", "coarse_smspe": "coarse sMSPE (ROMA paper)"}


def to_csv(board: Leaderboard) -> str:
    """The CSV text: one column per field, ``<metric>_mean`` and ``<metric>_std`` per metric."""
    import csv
    import io

    columns = ["learning_task", "rank", "model", "size", "steps", "params", "seeds", "seed_list",
               "failed_runs", "tied_with_best", "primary_metric", "skill_vs_persistence",
               "ratio_to_ar"]  # fmt: skip
    columns += [f"{m}_{s}" for m in METRICS for s in ("mean", "std")
                if any(f"{m}_mean" in r for r in board.rows)]  # fmt: skip
    columns += ["train_time_s", "peak_memory_mb", "hardware", "task_version", "data_checksum",
                "command", "run_ids", "verified", "external", "still_improving"]  # fmt: skip
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in board.rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return out.getvalue()


def format_mean_std(row: dict[str, Any], metric: str) -> str:
    if f"{metric}_mean" not in row:
        return "–"
    return f"{row[f'{metric}_mean']:.4g} ± {row[f'{metric}_std']:.2g}"


def verdict(board: Leaderboard, learning_task: str) -> str:
    """One sentence: who ranks first by the primary metric, and whether ROMA wins."""
    primary = board.primary[learning_task]
    rows = [r for r in board.rows if r["learning_task"] == learning_task and f"{primary}_mean" in r]
    learned = [r for r in rows if r["model"] not in UNRANKED_MODELS and r.get("verified", True)]
    if not learned:
        return ""
    best = [r for r in learned if r["rank"] == 1]
    roma = [r for r in learned if r["model"] == "roma"]
    names = ", ".join(f"{r['model']} ({r['size']})" for r in best)
    text = f"Best by test {primary} (excluding the oracle): {names}" + (
        ", tied within mean ± std over seeds." if len(best) > 1 else "."
    )
    if not roma:
        return text + " ROMA has no finished runs in this table."
    if roma[0]["rank"] == 1:
        return text + (" ROMA ties for first." if len(best) > 1 else " ROMA wins.")
    return text + f" ROMA does not win here: it ranks {roma[0]['rank']} of {len(learned)}."


def to_markdown(
    board: Leaderboard, source: str, show_command: str = "", folder: Path | None = None
) -> str:
    """The Markdown page: header, one table per learning task, the verdict and provenance.

    ``source`` names what the rows were aggregated from (the result-file folder);
    ``folder`` holds the task's tuning file and budget check
    (:func:`roma_bench.budget_pages.budget_paragraph`; default :func:`leaderboard_dir`).

    Columns: rank, model, size, steps, params, the primary metric, skill vs persistence,
    ratio to ``ar``, then every other metric (sMSPE labelled as the ROMA paper's); a rank
    shared with the best reads ``1 (tie)``.
    """
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Leaderboard: {board.task} (task version {board.task_version})",
        "",
        f"Generated {now} from `{source}` by "
        f"`{show_command or f'roma-bench leaderboard show --task {board.task}'}` — never "
        "edited by hand. "
        f"Data checksum `{board.data_checksum}`. Scores on the held-out test subgraph and test "
        "time range, mean ± sample std over seeds (lower is better). Rows are ranked by the "
        "task card's primary metric (offset-free); skill = 1 − error/error(persistence) and "
        "ratio to ar = error/error(ar), from the primary's seed means. The oracle (true "
        "equations from the true state) is a reference, never ranked. sMSPE is the ROMA "
        "paper's metric, shown for comparison with the paper; it never ranks (it changes when "
        "a phase is shifted by 2π). Rollout nRMSE at h frames feeds predictions back as "
        "history (Kuramoto: on the change from the rollout origin). A row marked unverified "
        "(a result file without predictions) is shown, never ranked.",
        "",
    ]
    budget = budget_paragraph(board.task, folder, {int(r["steps"]) for r in board.rows})
    if budget:
        lines += [budget, ""]
    if board.timed_runs and math.isfinite(board.wall_time_s):
        lines += [measured_time(board), ""]
    if board.code_commits:
        lines += [code_line(board.code_commits), ""]
    for learning_task in sorted({r["learning_task"] for r in board.rows}):
        rows = [r for r in board.rows if r["learning_task"] == learning_task]
        primary = board.primary[learning_task]
        shown = [m for m in METRICS if m != primary and any(f"{m}_mean" in r for r in rows)]
        head = ["rank", "model", "size", "steps", "params", f"**{primary}** (primary)",
                "skill vs persistence", "ratio to ar", *(METRIC_TITLES.get(m, m) for m in shown),
                "seeds", "train time (s)", "peak mem (MiB)", "hardware"]  # fmt: skip
        lines += [f"## {learning_task}", "", "| " + " | ".join(head) + " |",
                  "|" + "---|" * len(head)]  # fmt: skip
        for r in rows:
            place = format_rank(r)
            name = r["model"] + (" (external)" if r.get("external") else "")
            cells = [place, name, r["size"], str(r["steps"]),
                     f"{r['params']:,}", format_mean_std(r, primary),
                     format_skill(r["skill_vs_persistence"]), format_ratio(r["ratio_to_ar"]),
                     *(format_mean_std(r, m) for m in shown), str(r["seeds"]),
                     f"{r['train_time_s']:.1f}", f"{r['peak_memory_mb']:.0f}", r["hardware"]]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", verdict(board, learning_task), ""]
        if len({r["command"] for r in rows}) == 1:
            lines.append(f"Command (every row): `{rows[0]['command']}`")
        else:
            lines += ["Commands (one per row):", ""]
            lines += [f"- {r['model']} ({r['size']}): `{r['command']}`" for r in rows]
        improving = [f"{r['model']} ({r['still_improving']} runs)" for r in rows
                     if (r.get("still_improving") or "").split("/")[0] not in ("", "0")]  # fmt: skip
        if improving:
            lines += ["", "Still improving at the end of the budget (the last quarter of the "
                      "validation-loss curve falls > 5% and > 2 standard errors; "
                      f"roma_bench.convergence): {', '.join(improving)}. The curve of a run "
                      "often falls in its last quarter as the cosine schedule anneals the rate; "
                      "whether a longer budget would help is the doubling check's question "
                      "(the training-budget paragraph above)."]  # fmt: skip
        failed = [f"{r['model']} ({r['failed_runs']})" for r in rows if r["failed_runs"]]
        if failed:
            lines += ["", f"Failed runs (not in the means): {', '.join(failed)}."]
        lines.append("")
    if board.excluded:
        lines += [f"{len(board.excluded)} run(s) of other task versions or data were left out.", ""]
    return "\n".join(lines)


def write_leaderboard(
    board: Leaderboard, source: str, folder: Path | None = None, show_command: str = ""
) -> tuple[Path, Path]:
    """Write ``<folder>/<task>.csv`` and ``.md`` atomically; returns both paths."""

    folder = Path(folder) if folder is not None else leaderboard_dir()
    csv_path, md_path = folder / f"{board.task}.csv", folder / f"{board.task}.md"
    atomic_write_text(csv_path, to_csv(board))
    atomic_write_text(md_path, to_markdown(board, source, show_command, folder))
    return csv_path, md_path


def code_line(commits: dict[str, int]) -> str:
    """Which code trained the counted runs: each ``git_commit`` (12 characters; ``-dirty``:
    uncommitted changes on top) with its number of runs, the most runs first."""
    said = ", ".join(
        f"`{commit.split('-')[0][:12]}{'-dirty' if commit.endswith('-dirty') else ''}` ({n})"
        if commit
        else f"unrecorded ({n})"
        for commit, n in commits.items()
    )
    return f"Code that trained the runs (git commit, runs): {said}."


def measured_time(board: Leaderboard) -> str:
    """The page's sentence on how long the board took (see :func:`~roma_bench.leaderboard.
    board_times`)."""
    text = (
        f"Measured time to run this board: {board.wall_time_s / 60:.1f} min wall clock while any "
        f"of its runs was running (from the first run's start to the last run's end, less any "
        f"stretch when none was; {board.timed_runs} runs, training, validation and test scoring "
        f"included; the runs' training times add up to {board.train_time_total_s / 60:.1f} min)."
    )
    if board.continued_runs:
        runs = "run was" if board.continued_runs == 1 else "runs were"
        text += (
            f" {board.continued_runs} {runs} cut off and continued from the last checkpoint in "
            "a later session; the time from that checkpoint to the continuation is not counted."
        )
    return text
