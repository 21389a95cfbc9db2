"""Observation noise that fits each field, applied to training inputs and targets only.

The card's ``noise`` σ is a standard deviation; ``ξ ~ N(0, 1)`` i.i.d. per node and frame:

- Kuramoto phases (radians), additive Gaussian: ``θ̃ = θ + σ·ξ``. A shift of a phase by 2π
  shifts its observation by 2π; the noise does not depend on the phase's offset.
- Social activity (≥ 0), multiplicative log-normal: ``ũ = u·exp(σ·ξ)``, so ``log(ũ/u)`` has
  mean 0 and standard deviation σ, and ``ũ ≥ 0``.

Inputs and targets get independent draws (one call each); the coarse-observable targets
of a training batch are computed from the noised fine targets, so they are noised alike.
Validation and test batches are always clean; the loader (:class:`roma_bench.data.loader.WindowLoader`) applies
:func:`observation_noise` to training batches only, and the stored data are clean.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _check(values: Tensor, sigma: float) -> None:
    if sigma < 0 or not math.isfinite(sigma):
        raise ValueError(f"noise σ must be a finite number ≥ 0, got {sigma!r}")
    if not values.is_floating_point():
        raise TypeError(f"noise needs a floating-point tensor, got {values.dtype}")


def _standard_normal(values: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(values.shape, generator=generator, dtype=values.dtype, device=values.device)


def gaussian_noise(
    values: Tensor, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    """Return ``values + σ·ξ`` (a new tensor of the same shape); ``σ = 0`` returns a copy."""
    _check(values, sigma)
    if sigma == 0:
        return values.clone()
    return values + sigma * _standard_normal(values, generator)


def lognormal_noise(
    values: Tensor, sigma: float, generator: torch.Generator | None = None
) -> Tensor:
    """Return ``values·exp(σ·ξ)`` (a new tensor of the same shape); ``σ = 0`` returns a copy.

    ``σ`` is the standard deviation of ``log(x̃/x)``.
    """
    _check(values, sigma)
    if sigma == 0:
        return values.clone()
    return values * torch.exp(sigma * _standard_normal(values, generator))


NOISE_KIND = {"kuramoto": gaussian_noise, "social": lognormal_noise}
"""The noise of each system's field (see the module docstring)."""


def observation_noise(
    values: Tensor, sigma: float, system: str, generator: torch.Generator | None = None
) -> Tensor:
    """The noise that fits ``system``'s field: additive on phases, log-normal on activity."""
    if system not in NOISE_KIND:
        raise ValueError(f"noise: unknown system {system!r} (expected one of {sorted(NOISE_KIND)})")
    return NOISE_KIND[system](values, sigma, generator)
