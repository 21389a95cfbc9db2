"""What the budget checks say: the check's page, a board's budget paragraph, verdict text.

:func:`write_budget_check` writes ``leaderboards/budgets/<task>.md`` (the verdicts of
:func:`roma_bench.budgets.doubling_verdicts` with the invocations that made them) and its
plot ``<task>.png`` (every recorded run's validation score against its budget);
:func:`budget_paragraph` is the paragraph a board's page gives its budget, tuning and
doubling check; :func:`verdict_text` and :func:`se_text` are the words both use (and the
generated README sections, :mod:`roma_bench.results_sections`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from pathlib import Path

from roma_bench.budgets import (
    Budget,
    budget_check_paths,
    card_verdicts,
    check_rows,
    record_check_rows,
    tuning_path,
    tuning_rows,
)
from roma_bench.cards import load_card
from roma_bench.config import ConfigError
from roma_bench.convergence import DOUBLING_THRESHOLD
from roma_bench.files import atomic_write_text
from roma_bench.tracking.plots import doubling_curves

__all__ = [
    "budget_paragraph", "budget_plot", "recorded_commands", "resolved_text", "se_text",
    "seeds_text", "verdict_text", "verdict_words", "write_budget_check",
]  # fmt: skip


def verdict_text(verdict: dict, yes: str = "yes", no: str = "no") -> str:
    """``yes``/``no`` for a doubling verdict; a converged one whose 2B mean is worse than
    B's says so (longer training over-fit or went unstable: more steps do not help)."""
    if not verdict["converged"]:
        return no
    return f"{yes} (2B worse)" if verdict["improvement"] < 0 else yes


_WRITTEN_BY = re.compile(r"^Written by `([^`]*)` from every run recorded in", re.MULTILINE)


def recorded_commands(md_path: Path) -> list[str]:
    """The invocations a budget-check page names (``[]`` when there is none yet)."""
    try:
        match = _WRITTEN_BY.search(md_path.read_text())
    except FileNotFoundError:
        return []
    return [c for c in match.group(1).split("; ") if c] if match else []


def write_budget_check(
    task: str, rows: Sequence[dict], verdicts: Sequence[dict], command: str,
    folder: Path | None = None,
) -> tuple[Path, Path]:  # fmt: skip
    """Write the runs (CSV, merged with those recorded), a Markdown table of the verdicts
    and the plot of every recorded run (:func:`budget_plot`); returns the CSV and page
    paths. The page keeps every invocation that wrote it, in order (``command`` is added
    unless it is there already), so together they reproduce the CSV."""
    csv_path, md_path = budget_check_paths(task, folder)
    table = record_check_rows(task, rows, folder) if rows else check_rows(task, folder)
    png_path = budget_plot(task, table, md_path.with_suffix(".png"))
    commands = recorded_commands(md_path)
    if command not in commands:
        commands.append(command)
    lines = [
        f"# Budget check on {task}",
        "",
        f"Written by `{'; '.join(commands)}` from every run recorded in `{csv_path.name}` (earlier "
        "invocations and shards included). Validation split, the "
        f"card's primary metric (lower is better), seed means over the seeds run at both "
        f"budgets; B is converged when doubling it improves the mean by less than "
        f"{DOUBLING_THRESHOLD:.0%} (early stopping off, same schedule shape: warm-up doubled, "
        "cosine decay over the whole run). ± is the paired standard error of the improvement "
        "over seeds (std of the per-seed differences / (√n · mean at B)): an improvement "
        "within two of it of the threshold is not resolved by the seeds run (column "
        "`resolved`; one seed never is).",
        "",
        "| model | lr | B (steps) | warm-up at B | seeds | mean at B | mean at 2B | improvement "
        "| converged at B | resolved |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        lines.append(
            f"| {v['model']} | {v['lr']:g} | {v['steps']} | {v['warmup_steps']} | {seeds_text(v)} | "
            f"{v['mean_b']:.4g} | "
            f"{v['mean_2b']:.4g} | {v['improvement']:+.1%}{se_text(v)} | {verdict_text(v)} | "
            f"{resolved_text(v)} |"
        )
    lines += [
        "",
        "Every recorded run's validation score against its budget (points: seeds; line: "
        "seed mean ± standard error):",
        "",
        f"![Validation score against the budget on {task}]({png_path.name})",
    ]
    atomic_write_text(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def budget_plot(task: str, rows: Sequence[dict], path: Path) -> Path:
    """``path`` (PNG): each row's validation score against its steps, one line per model
    and learning rate (and warm-up fraction, where a model's rate has runs of more than one
    schedule shape; :func:`roma_bench.tracking.plots.doubling_curves`)."""
    series: dict[str, dict[int, list[float]]] = {}
    shapes: dict[tuple[str, float], set[float]] = {}
    for r in rows:
        fraction = int(r["warmup_steps"]) / int(r["steps"])
        shapes.setdefault((r["model"], float(r["lr"])), set()).add(round(fraction, 3))
    for r in rows:
        label = f"{r['model']} (lr {float(r['lr']):g})"
        if len(shapes[r["model"], float(r["lr"])]) > 1:  # tell the schedule shapes apart
            label = label[:-1] + f", warm-up {int(r['warmup_steps']) / int(r['steps']):.1%})"
        series.setdefault(label, {}).setdefault(int(r["steps"]), []).append(float(r["val_metric"]))
    metric = load_card(task).primary_metric("forecast")
    return doubling_curves(series, path, f"Budget check on {task}", metric)


def budget_paragraph(task: str, folder: Path | None = None, row_steps: Collection[int] = ()) -> str:
    """What a board's page says about its training budget: the card's budget, the tuning
    grid and each model's chosen rate, and the doubling check's verdicts at that budget.

    ``row_steps``: the steps of the board's rows; rows at other steps than the card's budget
    (a board trained before the card's budget changed) are named, with the command that
    retrains them. Empty for a task without a card or without a budget.
    """
    try:
        card = load_card(task)
    except (ConfigError, FileNotFoundError, KeyError):
        return ""
    if card.budget is None:
        return ""
    budget = Budget.of_card(card)
    schedule = (
        f"the card's {budget.steps} optimizer steps, {budget.warmup_steps} warm-up steps then "
        "cosine decay, early stopping off, every learned model alike."
    )
    other = sorted(set(row_steps) - {budget.steps})
    if other:
        text = (
            f"Training budget: {schedule} **Rows at {' and '.join(map(str, other))} steps on "
            "this page were trained before the card's budget changed** (column steps); "
            f"`roma-bench leaderboard run --task {task}` trains them at {budget.steps}."
        )
    else:
        text = f"Training budget (rows at {budget.steps} steps): {schedule}"
    swept_at = card.budget.tuning_steps
    tuned = [r for r in tuning_rows(task, folder) if r["steps"] == swept_at]
    if tuned:
        grid = ", ".join(f"{lr:g}" for lr in sorted({r["lr"] for r in tuned}))
        chosen = ", ".join(
            f"{r['model']} {r['lr']:g}" for r in sorted(tuned, key=lambda r: r["model"])
            if r["chosen"]
        )  # fmt: skip
        where = "" if swept_at == budget.steps else f" (the sweep ran at {swept_at} steps)"
        text += (
            f" Learning rate per model from `{tuning_path(task, folder).name}`{where}: the "
            f"same grid ({grid}) for every learned model, one seed ({tuned[0]['seed']}), "
            f"lowest validation primary metric: {chosen}."
        )
        edge = sorted(
            r["model"] for r in tuned if r["chosen"] and r["lr"] == max(r["lr"] for r in tuned)
        )
        if edge:
            text += (
                f" At the top of the grid (a higher rate might have done better): "
                f"{', '.join(edge)}."
            )
    else:
        text += f" Learning rate: the card's {budget.lr:g} (no tuning file)."
    verdicts = [v for v in card_verdicts(task, folder) if v["steps"] >= budget.steps]
    if verdicts:
        said = "; ".join(
            f"{v['model']} (lr {v['lr']:g}) {v['steps']} → {2 * v['steps']} steps: "
            f"{v['improvement']:+.1%}{se_text(v)}, "
            f"{verdict_words(v)}"
            for v in verdicts
        )
        text += (
            f" Doubling check (`budgets/{task}.md`, validation split, {len(verdicts)} "
            f"verdict(s); converged when doubling improves the seed mean by less than "
            f"{DOUBLING_THRESHOLD:.0%}; ± the paired standard error over seeds): {said}."
        )
    return text


def verdict_words(verdict: dict) -> str:
    """``converged`` / ``not converged`` (:func:`verdict_text`), with ``, not resolved by the
    seeds`` when the improvement lies within two standard errors of the threshold."""
    words = verdict_text(verdict, "converged", "not converged")
    return words if verdict.get("resolved") else f"{words}, not resolved by the seeds"


def resolved_text(verdict: dict) -> str:
    """``yes`` when the seeds resolve the verdict (its improvement lies two paired standard
    errors or more from the threshold: :attr:`roma_bench.convergence.DoublingVerdict.resolved`),
    else ``no``."""
    return "yes" if verdict.get("resolved") else "no"


def seeds_text(verdict: dict) -> str:
    """The seeds a verdict rests on, and the seeds whose run failed at B or 2B if any."""
    failed = verdict.get("failed", 0)
    return f"{verdict['seeds']}" + (f" ({failed} failed, left out)" if failed else "")


def se_text(verdict: dict) -> str:
    """`` ± 5.8%``: the verdict's paired standard error, or nothing with one seed."""
    se = verdict.get("improvement_se", math.nan)
    return f" ± {se:.1%}" if math.isfinite(se) else ""
