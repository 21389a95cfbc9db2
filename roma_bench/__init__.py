"""roma-bench: a benchmark suite for learned dynamics of complex systems on graphs.

ROMA (Renormalized Operators with Multiscale Attention) and neural-operator
baselines on Kuramoto-oscillator and Burgers-like social-dynamics tasks.
"""

__version__ = "0.1.0"

import os as _os

# DGL reads its backend at import; pin it so DGL never asks (and never prints about it).
_os.environ.setdefault("DGLBACKEND", "pytorch")
# Idle OpenMP threads sleep instead of spinning: on a machine shared with other jobs a
# spinning pool turns oversubscription into a 10-50x slowdown (benchmarks/contention.py: a
# twin job slows ROMA-tiny's step ≈ 1x with PASSIVE, ≈ 5x with libgomp's default spin; the
# price is that a lone 2-thread run gains little over 1 thread). Read when torch first loads
# OpenMP, so it only takes effect when roma_bench is imported before torch (as the CLI does).
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

_LAZY = {
    "evaluate_predictions": "roma_bench.predictions",
    "save_predictions": "roma_bench.predictions",
    "load_predictions": "roma_bench.predictions",
    "TrainWindows": "roma_bench.data.datasets",
    "EvalWindows": "roma_bench.data.datasets",
}


def __getattr__(name: str):
    """``roma_bench.evaluate_predictions`` and friends, imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'roma_bench' has no attribute {name!r}")
