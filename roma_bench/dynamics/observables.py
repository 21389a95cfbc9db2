"""Coarse observables of the fine-scale fields (the targets of the effective task).

Kuramoto (C = 2): the community order parameter
``R_c e^{iψ_c} = (1/|c|) Σ_{i∈c} e^{iθ_i}``, stored as ``(R_c cos ψ_c, R_c sin ψ_c)``.
Social (C = 1): the community mean activity ``ū_c = (1/|c|) Σ_{i∈c} u_i``.
"""

from __future__ import annotations

import torch
from torch import Tensor

COARSE_CHANNELS = {"kuramoto": 2, "social": 1}


def part_mean(values: Tensor, assignment: Tensor, num_parts: int) -> Tensor:
    """``[n, ...] → [m, ...]``: mean of ``values`` over the nodes of each part (0 for empty parts)."""
    shape = (num_parts, *values.shape[1:])
    sums = torch.zeros(shape, dtype=values.dtype, device=values.device)
    sums.index_add_(0, assignment, values)
    counts = torch.bincount(assignment, minlength=num_parts).to(values.dtype).clamp_min(1)
    return sums / counts.view(-1, *([1] * (values.dim() - 1)))


def coarse_observables(field: Tensor, assignment: Tensor, num_parts: int, system: str) -> Tensor:
    """Coarse observables ``[m, T, C]`` of a fine field ``[n, T]`` grouped by ``assignment`` ``[n]``.

    Differentiable in ``field``, so a model's fine prediction can be scored on the
    effective task.
    """
    if system == "kuramoto":
        phasors = torch.stack([torch.cos(field), torch.sin(field)], dim=-1)  # [n, T, 2]
        return part_mean(phasors, assignment, num_parts)
    if system == "social":
        return part_mean(field, assignment, num_parts).unsqueeze(-1)
    raise ValueError(f"unknown system {system!r}; expected 'kuramoto' or 'social'")


def order_parameter(theta: Tensor) -> Tensor:
    """Global Kuramoto order parameter ``R(t) = |(1/n) Σ_i e^{iθ_i(t)}|`` for ``θ`` ``[n, T]`` → ``[T]``."""
    return torch.sqrt(torch.cos(theta).mean(0) ** 2 + torch.sin(theta).mean(0) ** 2)
