"""Ranking on a leaderboard: the card's primary metric, skill vs persistence, ratio to ``ar``.

Per learning task, rows are ranked by the task card's primary metric
(``metrics.primary.<learning task>``; lower is better). Beside it, from the
primary's seed means ``e``:

- skill vs persistence ``1 − e/e_persistence``: 0 for persistence, 1 for a perfect
  forecast, negative when worse than repeating the last frame;
- ratio to ``ar`` ``e/e_ar``: below 1 beats the least-squares autoregression floor.

The ``oracle`` (true equations from the true state) is a reference row: shown,
never ranked. Rows are plain dicts with ``<metric>_mean`` keys, as
:func:`roma_bench.leaderboard.build_leaderboard` makes them.
"""

from __future__ import annotations

import math
from typing import Any

#: Reference rows: shown on a board, never ranked.
UNRANKED_MODELS = frozenset({"oracle"})
#: The floors the skill and the ratio columns refer to.
SKILL_REFERENCE, RATIO_REFERENCE = "persistence", "ar"


def card_primary_metrics(task: str) -> dict[str, str]:
    """``{learning task: primary metric}`` from the task card ``task``."""
    from roma_bench.cards import load_card

    card = load_card(task)
    return {lt: card.primary_metric(lt) for lt in ("forecast", "effective")}


def add_skill(rows: list[dict[str, Any]], primary: str) -> None:
    """Set ``primary_metric``, ``skill_vs_persistence`` and ``ratio_to_ar`` on ``rows``.

    ``rows`` share one learning task; ``e`` is each row's seed mean of ``primary``, the
    references are the ``persistence`` and ``ar`` rows' (NaN when a reference or ``e`` is
    missing): ``skill = 1 − e/e_persistence``, ``ratio = e/e_ar``.
    """

    def reference(model: str) -> float:
        found = [
            r[f"{primary}_mean"] for r in rows if r["model"] == model and f"{primary}_mean" in r
        ]
        return found[0] if found else math.nan

    persistence, ar = reference(SKILL_REFERENCE), reference(RATIO_REFERENCE)
    for row in rows:
        error = row.get(f"{primary}_mean", math.nan)
        row["primary_metric"] = primary
        row["skill_vs_persistence"] = 1 - error / persistence if persistence > 0 else math.nan
        row["ratio_to_ar"] = error / ar if ar > 0 else math.nan


def rank_rows(rows: list[dict[str, Any]], primary: dict[str, str]) -> list[dict[str, Any]]:
    """Sort by (learning task, reference rows last, primary mean) and number the ranked rows.

    ``rank`` is 1, 2, … per learning task; the unranked references (the oracle) and
    unverified rows (``row["verified"] is False``: scores not computed here) get ``""``.
    """

    def unranked(row: dict[str, Any]) -> bool:
        return row["model"] in UNRANKED_MODELS or row.get("verified") is False

    def key(row: dict[str, Any]) -> tuple:
        return (
            row["learning_task"],
            unranked(row),
            row.get(f"{primary[row['learning_task']]}_mean", math.inf),
        )

    ordered = sorted(rows, key=key)
    for learning_task in sorted({r["learning_task"] for r in ordered}):
        group = [r for r in ordered if r["learning_task"] == learning_task]
        add_skill(group, primary[learning_task])
        ranked = [r for r in group if not unranked(r)]
        for place, row in enumerate(ranked, 1):
            row["rank"] = place
        for row in group:
            row.setdefault("rank", "")
    return ordered


def format_skill(value: float) -> str:
    """A skill cell: 3 decimals (it lies in (−∞, 1]), ``–`` when undefined."""
    return "–" if not math.isfinite(value) else f"{value:.3f}"


def format_ratio(value: float) -> str:
    """A ratio cell: 3 significant digits (the oracle's is tiny), ``–`` when undefined."""
    return "–" if not math.isfinite(value) else f"{value:.3g}"
