"""Is a budget enough? Two convergence checks that a schedule cannot fake.

1. **Doubling** (:func:`doubling_check`, the decisive one): train at budget ``B`` and at
   ``2B`` with the *same schedule shape* (warm-up and decay stretched with the budget) and
   early stopping off, ``n`` seeds each; with ``ē_B``, ``ē_2B`` the seed means of the
   validation primary metric, the improvement is ``1 − ē_2B/ē_B`` and the budget ``B`` is
   converged when it is below ``threshold`` (default 5 %). A learning rate that decays to
   zero flattens the curve at ``B`` but not the result at ``2B`` (it decays later there),
   and early stopping only ends a run at its own plateau, so neither passes this test
   unless doubling the training really does not help.
2. **Still improving at the end** (:func:`still_improving`, per run, cheap): a least-squares
   line through the last ``tail`` fraction of one run's validation curve; the run is still
   improving when the line falls by more than ``min_drop`` (default 5 %, relative to the tail's mean)
   over the tail **and** its slope is ``z`` standard errors below zero (the curve's own
   scatter about the line is the noise). It reads the curve only, never the learning rate,
   so a curve flattened by a decayed learning rate is *not* flagged: that case is what the
   doubling check is for.

A board flags a model whose runs were still improving (:func:`improving_runs` over the
result files' ``validation_curve``: ``[[step, val_loss], …]``, the training loss on the
validation windows every ``val_every`` steps).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

#: Doubling the budget must improve the seed-mean validation metric by less than this.
DOUBLING_THRESHOLD = 0.05


@dataclass(frozen=True)
class TailTrend:
    """The least-squares line through the end of one validation curve.

    ``slope`` per step, its standard error ``slope_se``, ``drop`` = −slope·(span of the
    tail's steps)/mean(tail values) (> 0: falling), ``points`` used, and the verdict.
    """

    slope: float
    slope_se: float
    drop: float
    points: int
    improving: bool


def still_improving(
    steps: Sequence[float],
    values: Sequence[float],
    tail: float = 0.25,
    z: float = 2.0,
    min_drop: float = DOUBLING_THRESHOLD,
) -> TailTrend:
    """Whether a validation curve (``values`` at ``steps``, lower is better) still falls at its end.

    The last ``max(3, ceil(tail·n))`` points are fitted by ``v = a + b·step``; improving
    when ``drop = −b·(s_last − s_first)/mean(v) > min_drop`` and ``−b/se(b) > z``, with
    ``se(b)² = Σr²/(m−2) / Σ(s − s̄)²`` from the residuals ``r`` of the ``m`` tail points
    (a noise-free straight tail has ``se = 0`` and is judged on ``drop`` alone). Fewer
    than 3 points: never improving (nothing to tell). The default ``min_drop`` is the
    doubling threshold: a run whose last quarter of budget still bought 5 % would very
    likely gain more than 5 % from a doubled budget.
    """
    s = np.asarray(steps, dtype=float)
    v = np.asarray(values, dtype=float)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(
            f"steps and values: two 1-D sequences of one length, got {s.shape}, {v.shape}"
        )
    keep = np.isfinite(v)
    s, v = s[keep], v[keep]
    m = max(3, math.ceil(tail * len(v)))
    if len(v) < 3:
        return TailTrend(math.nan, math.nan, math.nan, len(v), False)
    s, v = s[-m:], v[-m:]
    centred = s - s.mean()
    sxx = float(centred @ centred)
    slope = float(centred @ (v - v.mean())) / sxx
    residuals = v - (v.mean() + slope * centred)
    se = math.sqrt(float(residuals @ residuals) / (m - 2) / sxx) if m > 2 else math.inf
    drop = -slope * float(s[-1] - s[0]) / float(abs(v.mean()) or 1.0)
    significant = se == 0.0 or -slope / se > z
    return TailTrend(slope, se, drop, m, bool(drop > min_drop and slope < 0 and significant))


@dataclass(frozen=True)
class DoublingVerdict:
    """Budget ``B`` against ``2B``: seed means, ``improvement = 1 − ē_2B/ē_B``, verdict, and
    ``improvement_se``: the paired standard error of the improvement over seeds,
    ``std_s(e_B,s − e_2B,s) / (√n · ē_B)`` (NaN with one seed). ``resolved``: the verdict
    stands clear of the seed noise, ``|improvement − threshold| ≥ 2 · improvement_se``; an
    improvement within two standard errors of the 5 % threshold (or a single seed, whose
    spread is unknown) is not resolved by the seeds run, whichever side its mean is on."""

    mean_b: float
    mean_2b: float
    improvement: float
    converged: bool
    improvement_se: float = math.nan
    threshold: float = DOUBLING_THRESHOLD

    @property
    def resolved(self) -> bool:
        """Whether the seeds resolve the verdict: ``|improvement − threshold| ≥ 2·SE``."""
        se = self.improvement_se
        return math.isfinite(se) and abs(self.improvement - self.threshold) >= 2.0 * se


def doubling_check(
    errors_b: Sequence[float], errors_2b: Sequence[float], threshold: float = DOUBLING_THRESHOLD
) -> DoublingVerdict:
    """Converged at ``B`` when doubling the budget improves the seed mean by < ``threshold``.

    ``errors_b``/``errors_2b``: the validation primary metric of each seed's run at ``B``
    and ``2B`` (same schedule shape, early stopping off; lower is better).
    """
    if not errors_b or not errors_2b:
        raise ValueError("doubling_check: need at least one run at B and one at 2B")
    mean_b, mean_2b = float(np.mean(errors_b)), float(np.mean(errors_2b))
    if not (mean_b > 0 and math.isfinite(mean_2b)):
        raise ValueError(f"doubling_check: validation errors must be positive, got {mean_b}")
    improvement = 1.0 - mean_2b / mean_b
    se = math.nan
    if len(errors_b) == len(errors_2b) and len(errors_b) > 1:  # paired by seed
        differences = np.asarray(errors_b, dtype=float) - np.asarray(errors_2b, dtype=float)
        se = float(np.std(differences, ddof=1) / math.sqrt(len(differences)) / mean_b)
    return DoublingVerdict(mean_b, mean_2b, improvement, improvement < threshold, se, threshold)


def improving_runs(curves: Iterable[Sequence[Sequence[float]]]) -> tuple[int, int]:
    """``(runs still improving, runs with a curve)`` over ``[[step, value], …]`` curves."""
    flagged = judged = 0
    for curve in curves:
        if len(curve) < 3:
            continue
        steps, values = zip(*curve, strict=True)
        judged += 1
        flagged += still_improving(steps, values).improving
    return flagged, judged
