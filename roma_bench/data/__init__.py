"""Task data: the HDF5 store, its generation and verification, batches and the window loader.

Names are imported lazily (``from roma_bench.data import WindowLoader`` loads h5py and
DGL only when used).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Batch": "batch",
    "StoreError": "format",
    "TaskStore": "store",
    "generate_task": "generation",
    "GenerationInterrupted": "generation",
    "verify_store": "store",
    "WindowLoader": "loader",
    "TrainWindows": "datasets",
    "EvalWindows": "datasets",
    "step_seed": "datasets",
    "rank_item": "datasets",
    "window_starts": "windows",
    "lognormal_noise": "noise",
    "gaussian_noise": "noise",
    "observation_noise": "noise",
    "task_spec": "spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"roma_bench.data.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'roma_bench.data' has no attribute {name!r}")
