"""Ranking on a leaderboard: the card's primary metric, skill vs persistence, ratio to ``ar``.

Per learning task, rows are ranked by the task card's primary metric
(``metrics.primary.<learning task>``; lower is better). Beside it, from the
primary's seed means ``e``:

- skill vs persistence ``1 − e/e_persistence``: 0 for persistence, 1 for a perfect
  forecast, negative when worse than repeating the last frame;
- ratio to ``ar`` ``e/e_ar``: below 1 beats the least-squares autoregression floor.

Ties: a ranked row whose interval ``mean ± std`` of the primary (sample std over
seeds) overlaps the best row's interval shares rank 1 (``tied_with_best``); the other
rows keep their place in the order (competition ranking: 1, 1, 3, …).

The ``oracle`` (true equations from the true state) is a reference row: shown,
never ranked. Rows are plain dicts with ``<metric>_mean`` keys, as
:func:`roma_bench.leaderboard.build_leaderboard` makes them.
"""

from __future__ import annotations

import math
from typing import Any

from roma_bench.cards import load_card

#: Reference rows: shown on a board, never ranked.
UNRANKED_MODELS = frozenset({"oracle"})
#: The floors the skill and the ratio columns refer to.
SKILL_REFERENCE, RATIO_REFERENCE = "persistence", "ar"


def card_primary_metrics(task: str) -> dict[str, str]:
    """``{learning task: primary metric}`` from the task card ``task``."""

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
    """Sort by (learning task, reference rows last, rank, primary mean) and number the ranked rows.

    ``rank`` is 1, 2, … per learning task; rows tied with the best (see
    :func:`tied_with_best`) share rank 1 and carry ``tied_with_best = True`` (the best
    too, when anyone ties it). The unranked references (the oracle) and unverified rows
    (``row["verified"] is False``: scores not computed here) get ``rank = ""``.
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
        ties = [r is not ranked[0] and tied_with_best(r, ranked[0], primary[learning_task])
                for r in ranked]  # fmt: skip
        for row in group:
            row["tied_with_best"] = False
        for place, (row, tied) in enumerate(zip(ranked, ties, strict=True), 1):
            row["tied_with_best"] = tied or (place == 1 and any(ties))
    # the rows sharing rank 1 come first, also one whose mean is behind others' (a wide
    # std); the others are numbered by their place after them (1, 1, 1, 4, 5, …)
    ordered.sort(key=lambda r: (*key(r)[:2], not r["tied_with_best"], key(r)[2]))
    for learning_task in {r["learning_task"] for r in ordered}:
        group = [r for r in ordered if r["learning_task"] == learning_task]
        for row in group:
            row["rank"] = ""
        for place, row in enumerate((r for r in group if not unranked(r)), 1):
            row["rank"] = 1 if row["tied_with_best"] else place
    return ordered


def tied_with_best(row: dict[str, Any], best: dict[str, Any], primary: str) -> bool:
    """Whether ``row``'s interval ``[m − s, m + s]`` of ``primary`` overlaps ``best``'s.

    ``m``, ``s``: the seed mean and sample std (``<primary>_mean``/``_std``; a missing std
    counts as 0). Since ``best`` has the lowest mean, the intervals overlap exactly when
    ``m_row − s_row ≤ m_best + s_best``. A row without the metric is never tied.
    """
    if f"{primary}_mean" not in row or f"{primary}_mean" not in best:
        return False
    low = row[f"{primary}_mean"] - row.get(f"{primary}_std", 0.0)
    high = best[f"{primary}_mean"] + best.get(f"{primary}_std", 0.0)
    return bool(low <= high)


def format_rank(row: dict[str, Any]) -> str:
    """A Markdown rank cell: ``1 (tie)`` for rows tied with the best; ``ref.``/``unverified``."""
    if row["rank"] == "":
        return "unverified" if row.get("verified") is False else "ref."
    return f"{row['rank']} (tie)" if row.get("tied_with_best") else str(row["rank"])


def format_skill(value: float) -> str:
    """A skill cell: 3 decimals (it lies in (−∞, 1]), ``–`` when undefined."""
    return "–" if not math.isfinite(value) else f"{value:.3f}"


def format_ratio(value: float) -> str:
    """A ratio cell: 3 significant digits (the oracle's is tiny), ``–`` when undefined."""
    return "–" if not math.isfinite(value) else f"{value:.3g}"
