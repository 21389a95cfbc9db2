"""Mean ± standard deviation over seeds: the one definition boards and studies share.

NaN rule: :func:`mean_std` propagates — any non-finite value makes both numbers NaN, so a
missing or diverged score is never silently averaged away. A caller that means to skip
such values says so with :func:`finite_values` (the studies do: a failed run is a row with
an empty error, and the arm is summarised over the runs that produced one).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def finite_values(values: Iterable[float | None]) -> list[float]:
    """The values that are numbers and finite (``None``, NaN and ±inf dropped)."""
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, sample std)`` with ``ddof = 1``: ``s = √(Σ(v − v̄)² / (n − 1))``; ``s = 0``
    for one value; ``(nan, nan)`` for no values or when any value is non-finite."""
    n = len(values)
    if n == 0 or not all(math.isfinite(v) for v in values):
        return math.nan, math.nan
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std
