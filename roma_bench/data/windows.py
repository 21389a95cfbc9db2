"""Which windows a split holds (the one rule behind the loader and the stored ``/windows``),
and the seed of training item ``k`` of a stream (:func:`step_seed`).

A window is named by ``t0``, the frame index of its last history frame (κ lookback,
H horizon, R rollout; ``[a, b)`` the split's half-open frame range from
:meth:`roma_bench.cards.TaskCard.frame_ranges`):

- **train**: every ``t0`` whose history and targets lie in the train range,
  ``κ-1 ≤ t0 ≤ a_train_stop-1-H``.
- **val** / **test**: ``W = window.eval_windows`` evenly spaced starts whose target and
  rollout frames lie in ``[a, b)`` (the history may reach back before ``a``):
  ``lo = max(κ-1, a-1)``, ``hi = b-1-R``, ``t0 = unique(round(linspace(lo, hi, W)))``.

Generation stores the val/test starts in the task file (``/windows/val``, ``/windows/test``),
so anyone reading the store with h5py gets exactly the scored windows; the loader reads
them from there.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import numpy as np

Split = Literal["train", "val", "test"]


def window_starts(card, split: Split) -> np.ndarray:
    """``[W]`` int64 valid ``t0`` of ``split`` for ``card`` (see the module docstring)."""
    lookback, horizon, rollout = card.window.lookback, card.window.horizon, card.window.rollout
    start, stop = card.frame_ranges[split]
    if split == "train":
        return np.arange(lookback - 1, stop - horizon, dtype=np.int64)
    lo, hi = max(lookback - 1, start - 1), stop - 1 - rollout
    if hi < lo:
        raise ValueError(f"task {card.name}: the {split} range [{start}, {stop}) holds no window")
    return np.unique(np.linspace(lo, hi, card.window.eval_windows).round().astype(np.int64))


def step_seed(seed: int, step: int) -> int:
    """A 63-bit seed derived from ``(seed, step)`` (stable across processes and platforms).

    It seeds training item ``step`` of stream ``seed`` and the harness's model RNGs at that step.
    """
    digest = hashlib.blake2b(f"{seed}:{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)
