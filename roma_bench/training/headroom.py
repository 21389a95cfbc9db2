"""Headroom of a task: where the reference floors sit on its held-out split.

A learned model is worth ranking only where the state oracle (true equations from
the true state) is far below persistence. :func:`floor_scores` scores the floors
``persistence``, ``linear``, ``ar`` and ``oracle`` on a task's ``test`` (or ``val``)
windows through the normal evaluator (:func:`roma_bench.training.evaluate.evaluate_model`)
and reports, per floor, the card's primary metric, sMSPE (the ROMA paper's metric),
nRMSE, the rollout nRMSE at 1, 4 and 16 frames, and its ratio to persistence on the
primary metric (``e/e_persistence``; below 1 beats persistence)::

    headroom = floor_scores("km-tiny")
    print(headroom.table())
    headroom.ratio("oracle")          # oracle's primary / persistence's primary

``roma-bench verify --floors TASK`` prints the same (``--json`` for the dict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roma_bench.cards import load_card
from roma_bench.metric_names import ROLLOUT_HORIZONS, rollout_metric_name
from roma_bench.registry import build_model
from roma_bench.training.data import open_task_data
from roma_bench.training.evaluate import evaluate_model

#: The reference floors, in the order they are shown.
FLOORS: tuple[str, ...] = ("persistence", "linear", "ar", "oracle")
#: Metrics shown beside the primary (which comes first).
SHOWN_METRICS: tuple[str, ...] = (
    "smspe", "nrmse", *(rollout_metric_name(h) for h in ROLLOUT_HORIZONS),
)  # fmt: skip


@dataclass
class Headroom:
    """Floor scores on one task split; ``scores[model][metric]`` as the evaluator reports."""

    task: str
    version: str
    checksum: str
    split: str
    learning_task: str
    primary: str
    scores: dict[str, dict[str, float]] = field(default_factory=dict)

    def ratio(self, model: str, metric: str | None = None) -> float:
        """``e_model / e_persistence`` on ``metric`` (default: the primary); NaN if undefined."""
        metric = metric or self.primary
        reference = self.scores.get("persistence", {}).get(metric, math.nan)
        value = self.scores.get(model, {}).get(metric, math.nan)
        return value / reference if reference > 0 else math.nan

    def columns(self) -> list[str]:
        """The primary, then :data:`SHOWN_METRICS` (without repeating the primary)."""
        return [self.primary, *(m for m in SHOWN_METRICS if m != self.primary)]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: task, version, checksum, split, primary and per-floor rows."""
        floors = {
            model: {
                **{m: scores.get(m) for m in self.columns()},
                "ratio_to_persistence": self.ratio(model),
            }
            for model, scores in self.scores.items()
        }
        return {
            "task": self.task, "version": self.version, "checksum": self.checksum,
            "split": self.split, "learning_task": self.learning_task, "primary": self.primary,
            "floors": floors,
        }  # fmt: skip

    def table(self) -> str:
        """A Markdown table: one row per floor, the primary first, the ratio to persistence last."""
        columns = self.columns()
        titles = [f"{self.primary} (primary)" if c == self.primary else c for c in columns]
        head = ["floor", *titles, f"{self.primary} / persistence"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for model, scores in self.scores.items():
            cells = [f"{scores[c]:.4g}" if c in scores else "–" for c in columns]
            lines.append(f"| {model} | " + " | ".join(cells) + f" | {self.ratio(model):.3f} |")
        return "\n".join(lines)


def floor_scores(
    task: str,
    split: str = "test",
    models: Sequence[str] = FLOORS,
    learning_task: str = "forecast",
    data_path: str | Path | None = None,
    progress: bool = False,
) -> Headroom:
    """Score the floor ``models`` on ``task``'s held-out ``split`` (see the module docstring).

    The store is opened (generated on first use) as the trainer opens it; every floor is
    built at size ``tiny`` (floors have no parameters) and scored on the same windows.
    """

    if split not in ("val", "test"):
        raise ValueError(f"split {split!r}: expected 'val' or 'test' (training data is not scored)")
    data = open_task_data(task, learning_task, data_path=data_path, progress=progress)
    card = load_card(task)
    headroom = Headroom(
        task=card.name, version=data.version, checksum=data.checksum, split=split,
        learning_task=learning_task, primary=card.primary_metric(learning_task),
    )  # fmt: skip
    batches = data.eval_batches(split)
    for name in models:
        model = build_model(name, data.spec, "tiny")
        headroom.scores[name] = evaluate_model(model, batches, data.spec)
    return headroom
