"""Ground-truth simulators: Kuramoto oscillators and Burgers-like social dynamics on graphs.

A system has ``name``, ``initial_state() -> [N]`` and ``rhs(t, y) -> [N]`` (float64);
:func:`simulate` integrates it with fixed-step RK4, and :func:`build_system` makes the
system of a task card on its graph. Names are imported lazily so that reading a task
card (which imports :mod:`roma_bench.dynamics.params`) does not load torch or scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DynamicalSystem": "integrate",
    "rk4_step": "integrate",
    "simulate": "integrate",
    "KuramotoSystem": "kuramoto",
    "coupling_profile": "kuramoto",
    "KuramotoParams": "params",
    "SocialParams": "params",
    "SocialSystem": "social",
    "build_system": "systems",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"roma_bench.dynamics.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'roma_bench.dynamics' has no attribute {name!r}")
