"""Observation noise: multiplicative log-normal, applied to training inputs and targets only.

A clean value ``x`` is observed as

    x̃ = x · exp(√σ · ξ),   ξ ~ N(0, 1) i.i.d. per node and frame,

so ``log(x̃/x)`` has mean 0 and variance σ (σ is the task card's ``noise``, the
log-variance). Validation and test targets are always clean; the loader
(:class:`roma_bench.data.loader.WindowLoader`) applies this to training batches only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def lognormal_noise(
    values: Tensor, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    """Return ``values · exp(√σ·ξ)`` with ``ξ ~ N(0, 1)`` of the same shape (a new tensor).

    ``values``: any shape, floating point. ``sigma``: log-variance ≥ 0; ``0`` returns a copy.
    ``generator`` makes the draw reproducible.
    """
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"noise σ must be a finite number ≥ 0, got {sigma!r}")
    if not values.is_floating_point():
        raise TypeError(f"noise needs a floating-point tensor, got {values.dtype}")
    if sigma == 0:
        return values.clone()
    xi = torch.randn(values.shape, generator=generator, dtype=values.dtype, device=values.device)
    return values * torch.exp(math.sqrt(sigma) * xi)
