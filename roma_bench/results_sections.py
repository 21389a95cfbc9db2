"""Generated results sections of README.md and leaderboards/studies/README.md (no typed claims).

Each section lies between ``<!-- <name>:begin -->`` and ``<!-- <name>:end -->`` and is
written only from committed CSVs, so a sentence can never disagree with its table:

- ``README.md`` section ``results``: per board ``leaderboards/<task>.csv`` and learning
  task, who is best on the card's primary metric (every row of rank 1: the ties), where
  ROMA ranks, ROMA's skill vs persistence ``1 − e/e_persistence`` and ratio to ``ar``
  ``e/e_ar``, the budget (steps, seeds) and task version the rows were made with, and the
  doubling check at that budget (``leaderboards/budgets/<task>.csv``) with the first
  budget at which each checked model converged;
- ``tasks/README.md`` sections ``budgets`` and ``floors``
  (:mod:`roma_bench.task_sections`): each card's budget with every doubling verdict, and
  the reference floors' scores from each board's floor rows;
- ``leaderboards/studies/README.md`` section ``studies``: per study CSV
  ``<study>-<task>.csv`` what it says (the transfer text is
  :func:`roma_bench.studies.joint.transfer_section`, nested in its own ``transfer``
  markers); a scaling or noise CSV made under another card (a ``task_version`` column
  that differs from the card's, or a ``metric`` column that is no longer the card's
  primary) gets one "superseded" line instead of numbers; every other study says, per task
  its runs trained on, whether their steps are the card's budget and the doubling check's
  verdict at those steps (:func:`study_budget_text`), so a study one budget behind its card,
  or at a budget the check found unconverged, says so.

``roma-bench leaderboard readme`` rewrites both; ``--check`` only compares (exit 1 and
the stale section's name when a committed section differs from what the CSVs give).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Collection
from pathlib import Path

from roma_bench.budget_pages import se_text, verdict_words
from roma_bench.budgets import budget_check_paths, card_verdicts, first_converged
from roma_bench.cards import load_card
from roma_bench.config import ConfigError
from roma_bench.files import SectionError, markers, replace_section, section_text
from roma_bench.ranking import RATIO_REFERENCE, SKILL_REFERENCE, format_ratio, format_skill
from roma_bench.studies.attention import rank_correlation
from roma_bench.studies.common import read_csv
from roma_bench.studies.joint import transfer_section
from roma_bench.studies.noise import summarize_noise
from roma_bench.studies.scaling import AXES, fit_rows
from roma_bench.task_sections import REGENERATE, budgets_section, floors_section

__all__ = [
    "REGENERATE", "SectionError", "board_summary", "markers", "replace_section",
    "results_section", "section_text", "sections", "stale_sections", "studies_section",
    "study_budget_text", "study_summary", "write_sections",
]  # fmt: skip

ROMA = "roma"


def _read_board(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _float(row: dict[str, str], key: str) -> float:
    try:
        return float(row.get(key, "") or "nan")
    except ValueError:
        return math.nan


def _mean_std(row: dict[str, str], metric: str) -> str:
    return f"{_float(row, f'{metric}_mean'):.4g} ± {_float(row, f'{metric}_std'):.2g}"


def board_summary(path: Path, link_prefix: str = "leaderboards/") -> str:
    """The Markdown lines that summarise one board CSV ``path`` (``leaderboards/<task>.csv``).

    Per learning task: the rank-1 rows (several = tied within mean ± std), ROMA's rank
    among the ranked rows with its skill vs persistence and ratio to ``ar``, and the
    budget: the distinct ``steps`` and ``seeds`` of the ranked rows; and the models whose
    runs were still improving at the end of it (the ``still_improving`` column, ``k/n``).
    """
    rows = _read_board(path)
    task = path.stem
    lines = [f"**{task}** ([{task}.md]({link_prefix}{task}.md)):", ""]
    for learning_task in sorted({r["learning_task"] for r in rows}):
        group = [r for r in rows if r["learning_task"] == learning_task]
        ranked = [r for r in group if r["rank"] != ""]
        if not ranked:
            lines.append(f"- {learning_task}: no ranked rows.")
            continue
        primary = ranked[0]["primary_metric"]
        best = [r for r in ranked if r["rank"] == "1"]
        names = ", ".join(f"{r['model']} ({_mean_std(r, primary)})" for r in best)
        tie = " (tied within mean ± std over seeds)" if len(best) > 1 else ""
        steps = ", ".join(sorted({r["steps"] for r in ranked}, key=int))
        seeds = ", ".join(sorted({r["seeds"] for r in ranked}, key=int))
        versions = ", ".join(sorted({r.get("task_version", "?") for r in ranked}))
        text = (
            f"- {learning_task}, ranked by test `{primary}` (lower is better; task version "
            f"{versions}; {steps} steps, {seeds} seeds per model): best {names}{tie}."
        )
        roma = [r for r in ranked if r["model"] == ROMA]
        if roma:
            r = roma[0]
            skill, ratio = _float(r, "skill_vs_persistence"), _float(r, "ratio_to_ar")
            text += (
                f" ROMA ranks {r['rank']} of {len(ranked)} ({_mean_std(r, primary)}), skill vs "
                f"{SKILL_REFERENCE} {format_skill(skill)}"
                + (f" (worse than {SKILL_REFERENCE})" if skill < 0 else "")
                + f", ratio to `{RATIO_REFERENCE}` {format_ratio(ratio)}"
                + (f" (beats `{RATIO_REFERENCE}`)" if ratio < 1 else "")
                + "."
            )
        else:
            text += " ROMA has no ranked row."
        improving = [f"{r['model']} ({r['still_improving']})" for r in ranked
                     if (r.get("still_improving") or "").split("/")[0] not in ("", "0")]  # fmt: skip
        if improving:
            text += f" Still improving at the end of the budget (runs): {', '.join(improving)}."
        if learning_task == "forecast" and len({r["steps"] for r in ranked}) == 1:
            text += _doubling_text(task, int(ranked[0]["steps"]), path.parent, link_prefix)
        lines.append(text)
    return "\n".join(lines) + "\n"


def _doubling_text(task: str, steps: int, folder: Path, link_prefix: str) -> str:
    """The doubling check of ``task`` (``<folder>/budgets/<task>.csv``): each checked model's
    verdict at the board's ``steps``, and the first budget at which it converged."""
    if not budget_check_paths(task, folder)[0].is_file():
        return ""
    verdicts = card_verdicts(task, folder)
    at_board = [v for v in verdicts if v["steps"] == steps]
    if not at_board:
        return _no_verdict_text(task, steps, verdicts, link_prefix)
    said = ", ".join(
        f"{v['model']} {v['improvement']:+.1%}{se_text(v)} ({verdict_words(v)})" for v in at_board
    )
    text = (
        f" Doubling the budget to {2 * steps} steps ([budgets/{task}.md]"
        f"({link_prefix}budgets/{task}.md), validation, paired SE over seeds): {said}."
    )
    first = first_converged(verdicts)
    checked = sorted({v["model"] for v in at_board})
    later = [f"{m} at {first[m]} steps" for m in checked if m in first and first[m] > steps]
    if later:
        text += f" First converged budget: {', '.join(later)}."
    unchecked = _last_verdicts_text(verdicts, steps, exclude=checked)
    if unchecked:
        # e.g. a model that converged at a smaller budget: whether its error rose on the way
        # to the board's budget is in its last verdict ("2B worse")
        text += (
            f" The other checked models have no verdict at {steps} steps; their last: {unchecked}."
        )
    return text


def _last_verdicts_text(verdicts: list[dict], steps: int, exclude: Collection[str] = ()) -> str:
    """Each checked model (not in ``exclude``) with its verdict at its largest budget below
    ``steps``: ``"gcn +1.1% ± 0.6% from 400 to 800 steps: converged, …"``; ``""`` for none."""
    last: dict[str, dict] = {}
    for v in sorted(verdicts, key=lambda v: v["steps"]):
        if v["steps"] < steps and v["model"] not in exclude:
            last[v["model"]] = v
    return ", ".join(
        f"{m} {v['improvement']:+.1%}{se_text(v)} from {v['steps']} to {2 * v['steps']} "
        f"steps: {verdict_words(v)}"
        for m, v in sorted(last.items())
    )


def _no_verdict_text(task: str, steps: int, verdicts: list[dict], link_prefix: str) -> str:
    """A board whose budget the doubling check has not reached: say so, with each checked
    model's verdict at its largest budget below the board's."""
    said = _last_verdicts_text(verdicts, steps)
    if not said:
        return ""
    return (
        f" The doubling check ([budgets/{task}.md]({link_prefix}budgets/{task}.md)) has no "
        f"verdict at {steps} steps yet; its last verdicts: {said}."
    )


def results_section(board_csvs: list[Path], link_prefix: str = "leaderboards/") -> str:
    """README.md's ``results`` section: one summary per board CSV (sorted by name)."""
    head = (
        f"Generated by `{REGENERATE}` from the committed board CSVs; do not edit by hand. "
        "Best = every row of rank 1 on the card's primary metric (rows whose mean ± std "
        "overlaps the best's share its rank); skill = 1 − error/error(persistence), ratio = "
        "error/error(ar).\n"
    )
    if not board_csvs:
        return head + "\nNo board CSVs are committed.\n"
    parts = [board_summary(p, link_prefix) for p in sorted(board_csvs)]
    return head + "\n" + "\n".join(parts)


def _superseded(frame, task: str, learning_task: str = "forecast") -> str | None:
    """Why a study CSV was made under another card (``None`` when it is current)."""

    card = load_card(task)
    if "task_version" in frame.columns:
        versions = sorted({str(v) for v in frame["task_version"]})
        if versions != [card.version]:
            return f"task version {', '.join(versions)} (the card is now {card.version})"
        return None
    if "metric" in frame.columns:
        metrics = sorted({str(m) for m in frame["metric"]})
        primary = card.primary_metric(learning_task)
        if metrics != [primary]:
            return (
                f"no task version column and scored on {', '.join(metrics)}, which the "
                f"{task} card (version {card.version}) no longer ranks by (its primary is "
                f"{primary}): a task-format-1 result"
            )
    return None


def _scaling_text(frame) -> str:
    lines = []
    for fit in fit_rows(frame.to_dict("records")):
        mine = frame[(frame["model"] == fit["model"]) & (frame["axis"] == fit["axis"])]
        sizes = sorted({int(v) for v in mine[fit["N"]]})  # parameters, or nodes
        lines.append(
            f"- {fit['model']} ({fit['axis']} axis, {fit['points']} points, "
            f"{AXES[fit['axis']]} = {sizes[0]:,}…{sizes[-1]:,}): "
            f"α = {fit['alpha']:.3g} ± {fit['alpha_se']:.2g} "
            f"(R² = {fit['r2']:.2f})."
        )
    return "\n".join(lines)


def _noise_text(frame) -> str:
    """One line per model: error at each σ, with its ratio to the σ = 0 error."""

    by_model: dict[str, list[dict]] = {}
    for row in summarize_noise(frame.to_dict("records")):
        by_model.setdefault(row["model"], []).append(row)
    lines = []
    for model, rows in by_model.items():
        seeds = sorted({int(r["seeds"]) for r in rows})
        points = "; ".join(
            f"σ = {r['sigma']:g}: {r['error']:.4g}"
            + (f" ± {r['error_std']:.2g}" if int(r["seeds"]) > 1 else "")
            + ("" if r["sigma"] == 0 else f" (× {r['error_vs_clean']:.2f})")
            for r in rows
        )
        count = "/".join(map(str, seeds))
        lines.append(f"- {model} ({count} seed{'s' if seeds[-1] > 1 else ''}): {points}.")
    return "\n".join(lines)


def _attention_text(frame) -> str:
    own = frame["own"] == 1
    rho_f = rank_correlation(frame["distance"].to_numpy(), frame["fine_to_coarse"].to_numpy())
    rho_c = rank_correlation(frame["distance"].to_numpy(), frame["coarse_to_fine"].to_numpy())
    return (
        f"- {frame['node'].nunique()} fine nodes, {frame['supernode'].nunique()} supernodes; "
        f"Spearman ρ(hyperbolic distance, attention): fine→supernode {rho_f:.3f}, "
        f"supernode→fine {rho_c:.3f}.\n"
        f"- mean fine→supernode weight: own (argmax) supernode "
        f"{frame.loc[own, 'fine_to_coarse'].mean():.4g}, others "
        f"{frame.loc[~own, 'fine_to_coarse'].mean():.4g}"
        + (f" (uniform over the {int(frame['tokens'].iloc[0])} tokens: "
           f"{1 / frame['tokens'].iloc[0]:.4g})." if "tokens" in frame.columns else ".")
    )  # fmt: skip


def study_budget_text(frame, task: str, folder: Path) -> str:
    """Per task the study's runs trained on (its ``task`` column, else ``task``) and per
    distinct ``steps``: whether that is the card's budget, and the doubling check at it
    (``<folder>/budgets/<task>.csv``, :func:`_doubling_text`); ``""`` for a frame without
    ``steps``. A task without a loadable card is named without a budget."""
    if "steps" not in frame.columns:
        return ""
    tasks = list(dict.fromkeys(frame["task"])) if "task" in frame.columns else [task]
    lines = []
    for name in tasks:
        rows = frame[frame["task"] == name] if "task" in frame.columns else frame
        try:
            budget = load_card(name).budget
        except (ConfigError, FileNotFoundError, KeyError):
            budget = None
        for steps in sorted({int(s) for s in rows["steps"]}):
            if budget is None:
                said = "no card budget to compare with."
            elif budget.steps == steps:
                said = "the card's budget."
            else:
                said = f"not the card's budget ({budget.steps} steps)."
            check = _doubling_text(name, steps, folder, "../") if budget is not None else ""
            lines.append(f"- {name}, {steps} steps: {said}{check}")
    return (
        "Budget against the cards ([tasks/README.md](../../tasks/README.md#budgets)):\n\n"
        + "\n".join(lines)
        + "\n"
    )


def study_summary(path: Path) -> str:
    """The Markdown subsection for one study CSV ``<study>-<task>.csv``."""

    study, _, task = path.stem.partition("-")
    title = f"### {study.capitalize()} on {task} — [{path.stem}.md]({path.stem}.md)\n\n"
    folder = path.parent.parent  # leaderboards/studies/<csv> -> leaderboards/
    frame = read_csv(path)
    if study == "transfer":
        begin, end = markers("transfer")
        budget = study_budget_text(frame, task, folder)
        return f"{title}{begin}\n{transfer_section(path)}{end}\n" + (
            f"\n{budget}" if budget else ""
        )
    command = path.read_text().splitlines()[0].removeprefix("# command: ")
    stale = _superseded(frame, task)
    if stale is not None:
        return f"{title}Superseded: [{path.name}]({path.name}) was made with {stale}; not summarised.\n"
    steps = ", ".join(str(int(s)) for s in sorted(set(frame["steps"])))
    texts: dict[str, Callable] = {
        "scaling": _scaling_text, "noise": _noise_text, "attention": _attention_text,
    }  # fmt: skip
    body = texts[study](frame) if study in texts else f"{len(frame)} rows."
    budget = study_budget_text(frame, task, folder)
    return f"{title}{steps} steps per run. Command: `{command}`\n\n{body}\n" + (
        f"\n{budget}" if budget else ""
    )


def studies_section(study_csvs: list[Path]) -> str:
    """leaderboards/studies/README.md's ``studies`` section: one subsection per CSV."""
    head = f"Generated by `{REGENERATE}` from the committed study CSVs; do not edit by hand.\n"
    return head + "".join("\n" + study_summary(p) for p in sorted(study_csvs))


def sections(root: Path) -> dict[Path, dict[str, str]]:
    """``{README path: {section name: generated body}}`` for the checkout at ``root``."""
    # <task>.csv are boards; <task>.tuning.csv beside them are learning-rate sweeps
    boards = sorted(p for p in (root / "leaderboards").glob("*.csv") if "." not in p.stem)
    studies = sorted((root / "leaderboards" / "studies").glob("*.csv"))
    generated = {
        root / "README.md": {"results": results_section(boards)},
        root / "leaderboards" / "studies" / "README.md": {"studies": studies_section(studies)},
    }
    tasks = root / "tasks"
    if tasks.is_dir():  # a checkout without task cards has no budgets to list
        cards = sorted(tasks.glob("*.yaml"))
        generated[tasks / "README.md"] = {
            "budgets": budgets_section(cards, root / "leaderboards"),
            "floors": floors_section(boards),
        }
    return generated


def write_sections(root: Path) -> list[Path]:
    """Rewrite every generated section under ``root``; returns the READMEs written."""
    written = []
    for readme, generated in sections(root).items():
        text = readme.read_text()
        for name, body in generated.items():
            text = replace_section(text, name, body, str(readme))
        readme.write_text(text)
        written.append(readme)
    return written


def stale_sections(root: Path) -> list[str]:
    """``"<README>: <section>"`` for every committed section that differs from the CSVs."""
    stale = []
    for readme, generated in sections(root).items():
        text = readme.read_text()
        for name, body in generated.items():
            if section_text(text, name) != body:
                stale.append(f"{readme}: {name}")
    return stale
