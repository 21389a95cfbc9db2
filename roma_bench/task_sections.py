"""tasks/README.md's generated sections: the cards' budgets and the floors' headroom.

- ``budgets``: per card with a ``budget``, its steps, warm-up and sweep budget, and every
  doubling verdict of ``leaderboards/budgets/<card>.csv`` (at the budget, below it and above
  it) with whether the seeds resolve it, so no card comment or README sentence restates a
  verdict;
- ``floors``: per board ``leaderboards/<task>.csv``, the reference floors (persistence,
  linear, ar, oracle) on the test split, as :meth:`roma_bench.training.headroom.Headroom.table`
  prints them (``roma-bench verify --floors TASK`` recomputes them from the store).

Both are written by ``roma-bench leaderboard readme`` with the README sections of
:mod:`roma_bench.results_sections`, and checked with them.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from roma_bench.budget_pages import resolved_text, se_text, seeds_text, verdict_text
from roma_bench.budgets import budget_check_paths, card_verdicts, first_converged
from roma_bench.cards import load_card
from roma_bench.convergence import DOUBLING_THRESHOLD
from roma_bench.training.headroom import FLOORS, Headroom

__all__ = ["REGENERATE", "budgets_section", "card_budget_summary", "floor_table", "floors_section"]

#: The command that writes every generated section (README results, studies, tasks).
REGENERATE = "roma-bench leaderboard readme"


def card_budget_summary(card_path: Path, folder: Path, link_prefix: str) -> tuple[str, list[str]]:
    """One card's budget line and its doubling verdicts as table rows (``("", [])`` for a
    card without a budget)."""
    card = load_card(card_path)
    if card.budget is None:
        return "", []
    b, name = card.budget, card.name
    line = (
        f"- **{name}**: {b.steps} steps, {b.warmup_steps} warm-up, learning rates swept at "
        f"{b.tuning_steps} steps."
    )
    verdicts = []
    if budget_check_paths(name, folder)[0].is_file():
        verdicts = card_verdicts(name, folder)
    if not verdicts:
        chosen = f" (`chosen_by`: `{b.chosen_by}`)" if b.chosen_by else ""
        return line + f" No doubling check of {name} has a verdict{chosen}.\n", []
    line += f" Check: [budgets/{name}.md]({link_prefix}budgets/{name}.md)."
    line += _budget_status(verdicts, b.steps)
    rows = []
    for v in sorted(verdicts, key=lambda v: (v["steps"], v["model"], v["lr"])):
        steps = f"{v['steps']} → {2 * v['steps']}"
        if v["steps"] == b.steps:
            steps = f"**{steps}** (budget)"
        rows.append(
            f"| {name} | {steps} | {v['model']} | {v['lr']:g} | {v['mean_b']:.4g} → "
            f"{v['mean_2b']:.4g} | {v['improvement']:+.1%}{se_text(v)} | {seeds_text(v)} | "
            f"{verdict_text(v, 'converged', 'not converged')} | {resolved_text(v)} |"
        )
    return line + "\n", rows


def _budget_status(verdicts: list[dict], steps: int) -> str:
    """What the verdicts say of the budget ``steps``: per model converged or not there, the
    checked models without a verdict there, and the smallest budget whose verdicts cover
    every checked model and all say converged (the one the criterion asks for), else each
    model's first converged budget. A model checked at more than one rate counts once per
    rate (``model (lr r)``)."""
    rates: dict[str, set[float]] = {}
    for v in verdicts:
        rates.setdefault(v["model"], set()).add(v["lr"])

    def label(v: dict) -> str:
        return v["model"] if len(rates[v["model"]]) == 1 else f"{v['model']} (lr {v['lr']:g})"

    checked = sorted({label(v) for v in verdicts})
    by_steps: dict[int, dict[str, dict]] = {}
    for v in verdicts:
        by_steps.setdefault(v["steps"], {})[label(v)] = v
    at = by_steps.get(steps, {})
    text = f" At the budget ({steps} → {2 * steps}):"
    if not at:
        text += " no verdict yet."
    else:
        yes = sorted(m for m, v in at.items() if v["converged"])
        no = sorted(m for m, v in at.items() if not v["converged"])
        parts = [f"converged for {', '.join(yes)}" if yes else "",
                 f"not converged for {', '.join(no)}" if no else "",
                 f"not checked for {', '.join(sorted(set(checked) - set(at)))}"
                 if set(checked) - set(at) else ""]  # fmt: skip
        text += " " + "; ".join(p for p in parts if p) + "."
    converged = [
        b for b, models in sorted(by_steps.items())
        if set(models) == set(checked) and all(v["converged"] for v in models.values())
    ]  # fmt: skip
    text += f" Smallest budget converged for every checked model ({', '.join(checked)}): "
    if converged:
        return text + f"{converged[0]} steps."
    first = first_converged(verdicts, key=label)
    each = [f"{m} at {first[m]} steps" if m in first else f"{m} not yet" for m in checked]
    return text + f"none yet (first converged budget per model: {', '.join(each)})."


def budgets_section(
    card_paths: list[Path], folder: Path, link_prefix: str = "../leaderboards/"
) -> str:
    """tasks/README.md's ``budgets`` section: each card's budget (:func:`card_budget_summary`)
    and one table of every doubling verdict."""
    head = (
        f"Generated by `{REGENERATE}` from the cards' `budget` and "
        "`leaderboards/budgets/<card>.csv`; do not edit by hand. A budget B is converged for "
        "a model when doubling it to 2B (same schedule shape, early stopping off) improves "
        f"the seed mean of the validation primary metric by less than {DOUBLING_THRESHOLD:.0%}"
        ' (± the paired standard error over seeds; "2B worse": the longer runs did worse). '
        "Resolved by the seeds: the improvement lies two standard errors or more from the "
        f"{DOUBLING_THRESHOLD:.0%} threshold, so more seeds would not be expected to flip the "
        "verdict; otherwise it rests on seed noise.\n\n"
    )
    lines, rows = [], []
    for path in sorted(card_paths):
        line, card_rows = card_budget_summary(path, folder, link_prefix)
        lines.append(line)
        rows += card_rows
    text = head + "".join(lines)
    if rows:
        text += (
            "\n| card | B → 2B steps | model | lr | validation mean B → 2B | improvement | "
            "seeds | verdict | resolved by the seeds |\n|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(rows)
            + "\n"
        )
    return text


def floor_table(board_csv: Path, learning_task: str = "forecast") -> str:
    """One board's floor rows as :meth:`Headroom.table` prints them, with a line naming the
    board, task version and data; empty when the board has no floor row."""
    with board_csv.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["learning_task"] == learning_task]
    floors = {r["model"]: r for r in rows if r["model"] in FLOORS}
    if not floors:
        return ""
    first = next(iter(floors.values()))
    headroom = Headroom(
        task=board_csv.stem, version=first["task_version"], checksum=first["data_checksum"],
        split="test", learning_task=learning_task, primary=first["primary_metric"],
    )  # fmt: skip
    for model in (m for m in FLOORS if m in floors):
        headroom.scores[model] = {
            key[: -len("_mean")]: float(value)
            for key, value in floors[model].items()
            if key.endswith("_mean") and value not in ("", None) and math.isfinite(float(value))
        }
    return (
        f"**{headroom.task}** (floor rows of [`leaderboards/{board_csv.name}`]"
        f"(../leaderboards/{board_csv.name}), task version {headroom.version}, data "
        f"`{headroom.checksum[:12]}…`):\n\n{headroom.table()}\n"
    )


def floors_section(board_csvs: list[Path]) -> str:
    """tasks/README.md's ``floors`` section: :func:`floor_table` of every board."""
    head = (
        f"Generated by `{REGENERATE}` from the floor rows of the committed boards; do not edit "
        "by hand. Test split, lower is better; the last column is the ratio to persistence "
        "on the primary metric.\n"
    )
    tables = [t for t in (floor_table(p) for p in sorted(board_csvs)) if t]
    if not tables:
        return head + "\nNo board with floor rows is committed.\n"
    return head + "".join("\n" + t for t in tables)
