"""Timing helper shared by the benchmark scripts (each runs as ``python benchmarks/<name>.py``,
which puts this folder first on ``sys.path``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(step: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall-clock milliseconds of ``repeats`` calls of ``step`` after ``warmup``
    untimed ones."""
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3
