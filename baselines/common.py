"""Small building blocks shared by the baselines: MLPs, time and node features.

Baselines do not scale their inputs: the harness hands every learned model the normalized
history ``x̃ = (x − x_t0)/s``, its scaled backward differences and the offset-free ``state``
(:mod:`roma_bench.training.normalization`), read through
:func:`roma_bench.models.inputs.node_inputs` ``[n, κ+p+S]``, and decodes the
model's prediction (normalized units) itself.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from roma_bench.data.batch import Batch
from roma_bench.graphs import ops
from roma_bench.models.inputs import feature_width, input_width, node_inputs

__all__ = ["feature_width", "input_width", "node_inputs"]


class MLP(nn.Sequential):
    """``Linear → GELU → … → Linear`` with ``depth`` hidden layers of ``width`` channels.

    ``[*, in_dim] → [*, out_dim]``.
    """

    def __init__(self, in_dim: int, width: int, out_dim: int, depth: int = 1) -> None:
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(depth):
            layers += [nn.Linear(dim, width), nn.GELU()]
            dim = width
        layers.append(nn.Linear(dim, out_dim))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP block: ``h ← h + W₂ GELU(W₁ LayerNorm(h))``, ``[*, d] → [*, d]``."""

    def __init__(self, width: int, expansion: int = 2) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, expansion * width)
        self.down = nn.Linear(expansion * width, width)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.down(torch.nn.functional.gelu(self.up(self.norm(h))))


class ResidualMLP(nn.Module):
    """``Linear(in→width)``, ``depth`` :class:`ResidualBlock` s, ``LayerNorm``, ``Linear(width→out)``.

    ``[*, in_dim] → [*, out_dim]`` (the DeepONet branch of ``don``).
    """

    def __init__(
        self, in_dim: int, width: int, out_dim: int, depth: int, expansion: int = 2
    ) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width, expansion) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.norm(self.blocks(self.embed(x))))


def horizon_times(batch: Batch) -> Tensor:
    """``[H, 1]`` target times relative to ``t0`` in units of the horizon, ``k / H`` for k = 1…H.

    Relative (not absolute) times keep the trunk's input in ``(0, 1]`` for any ``t0``.
    """
    times = (batch.target_times() - batch.t0) / (batch.horizon * batch.frame_dt)
    return times.view(-1, 1)


def fourier_features(t: Tensor, num_frequencies: int) -> Tensor:
    """``[*, 1] → [*, 1 + 2F]``: ``(t, sin(2^f π t), cos(2^f π t))`` for f = 0…F−1."""
    freqs = (2.0 ** torch.arange(num_frequencies, device=t.device, dtype=t.dtype)) * torch.pi
    angles = t * freqs
    return torch.cat([t, torch.sin(angles), torch.cos(angles)], dim=-1)


def neighbour_history(batch: Batch, inputs: Tensor) -> Tensor:
    """``[n, d] → [n, 2d]``: the neighbours' mean and max of node inputs (via ops.py).

    ``mean_i = (1/d_i) Σ_{j→i} x̃_j``, ``max_i = max_{j→i} x̃_j`` (0 for isolated nodes).
    """
    messages = ops.gather_src(batch.graph, inputs)
    return ops.multi_aggregate(batch.graph, messages, ("mean", "max"))


def node_features(batch: Batch, use_encodings: bool = True) -> Tensor:
    """``[n, κ+S (+P)]``: :func:`node_inputs`, then (optionally) the positional encodings."""
    inputs = node_inputs(batch)
    parts = [inputs]
    if use_encodings and batch.encodings.shape[1] > 0:
        parts.append(batch.encodings.to(inputs.dtype))
    return torch.cat(parts, dim=-1)


def poincare_disk(coords: Tensor, num_nodes: int, edge_radius: float = 0.9) -> Tensor:
    """``[n, 2]`` hyperbolic (radius r, angle φ) → ``[n, 2]`` Cartesian points in the unit disk.

    The hyperbolic random graph of ``N`` nodes lives in a disk of radius ``R = 2 ln N``;
    the Poincaré map ``ρ = tanh(r/2)`` would push almost every node to ``ρ ≈ 1``, so the
    curvature is rescaled to send ``r = R`` to ``ρ = edge_radius``:
    ``ρ = tanh(r · artanh(edge_radius) / R)``, ``(x, y) = ρ (cos φ, sin φ)``.
    """
    big_r = 2.0 * torch.log(torch.tensor(float(max(num_nodes, 2))))
    rate = torch.atanh(torch.tensor(edge_radius)) / big_r
    rho = torch.tanh(coords[:, 0].clamp_min(0.0) * rate.to(coords.device))
    return torch.stack([rho * torch.cos(coords[:, 1]), rho * torch.sin(coords[:, 1])], dim=-1)


class EdgeConv(nn.Module):
    """One message-passing layer (EdgeConv): ``h_i ← h_i + (1/d_i) Σ_{j→i} φ([h_i, h_j − h_i])``.

    ``φ`` is a one-hidden-layer MLP ``[2d] → [d]``; aggregation runs through
    :mod:`roma_bench.graphs.ops` (DGL kernels on CPU, torch scatter elsewhere).
    ``[n, d] → [n, d]``. No LayerNorm after the update (there was one): it rescaled each
    node's token to unit size, and the size of a node's history increments is its drift;
    without it don-mp's validation loss on km-tiny falls 95x in 300 steps instead of 6x
    (the transformer after it is pre-LN, so its inputs are normalized there).
    """

    def __init__(self, width: int) -> None:
        super().__init__()
        self.message = MLP(2 * width, width, width, depth=1)

    def forward(self, graph: Any, h: Tensor) -> Tensor:
        h_dst = ops.gather_dst(graph, h)
        h_src = ops.gather_src(graph, h)
        messages = self.message(torch.cat([h_dst, h_src - h_dst], dim=-1))
        return h + ops.aggregate(graph, messages, "mean")


ROMA_B_PARAMETERS = 264_000_000
"""ROMA-B's parameter count on km-3m; ``base`` sizes of the baselines aim at it (±10%)."""


def real_parameter_count(module: nn.Module, trainable_only: bool = True) -> int:
    """Trainable real numbers of ``module``: a complex parameter (spectral weights) counts twice."""
    return sum(
        p.numel() * (2 if p.is_complex() else 1)
        for p in module.parameters()
        if p.requires_grad or not trainable_only
    )
