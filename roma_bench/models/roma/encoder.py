"""Hyperbolic graph encoder (ROMA's precoder) on the Poincaré ball.

One layer maps ball points ``x`` ``[n, d_in]`` to ball points ``[n, d_out]``:

1. hyperbolic linear map  ``h_i = (W ⊗ x_i) ⊕ exp₀(b)``
2. edge messages in the tangent space at the origin, for every edge ``j → i``:
   ``m_ij = MLP_e([log₀h_i, log₀h_j − log₀h_i])``  (times the edge weight ``w_ij`` if given)
3. several aggregations at once, mixed by an MLP:
   ``a_i = MLP_a([Σ_j m_ij, mean_j m_ij, var_j m_ij, max_j m_ij])``
4. activation in the tangent space: ``h'_i = exp₀(σ(a_i))`` (σ = GELU)

:class:`HyperbolicGraphNet` stacks layers with a residual in the tangent space,
``x^{l+1} = skip(log₀x^l) + log₀h'^l`` (``skip`` = identity when widths match, else a
linear map), and returns either the last layer or the concatenation of all layer
outputs (the precoder's embedding). An ``L``-layer net is ``L``-hop local. All message
passing goes through :mod:`roma_bench.graphs.ops` (DGL kernels on CPU, torch on CUDA).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from roma_bench.graphs import ops
from roma_bench.models.roma.manifold import PoincareBall

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int = 2) -> nn.Sequential:
    """``depth`` hidden GELU layers of width ``hidden`` then a linear output (``depth + 1`` maps)."""
    layers: list[nn.Module] = []
    dims = [in_dim] + [hidden] * depth
    for a, b in itertools.pairwise(dims):
        layers += [nn.Linear(a, b), nn.GELU()]
    layers.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


class HyperbolicLinear(nn.Module):
    """``h = (W ⊗ x) ⊕ exp₀(b)`` for ball points ``x`` ``[n, d_in]`` → ``[n, d_out]``."""

    def __init__(self, in_dim: int, out_dim: int, ball: PoincareBall) -> None:
        super().__init__()
        self.ball = ball
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: Tensor) -> Tensor:
        h = self.ball.mobius_matvec(self.weight, x)
        bias = self.ball.expmap0(self.bias.unsqueeze(0))
        return self.ball.proj(self.ball.mobius_add(h, bias))


class HyperbolicAggregation(nn.Module):
    """Edge-MLP messages on ``[x_i, x_j − x_i]`` aggregated with sum, mean, var and max.

    ``a_i = exp₀(MLP_a([Σ m, mean m, var m, max m]))``, ``m_ij = w_ij·MLP_e([x_i, x_j − x_i])``
    with ``x = log₀h`` the tangent features; shapes ``[n, d]`` → ``[n, d]``.
    """

    REDUCES: tuple[ops.Reduce, ...] = ("sum", "mean", "var", "max")

    def __init__(self, dim: int, ball: PoincareBall, mlp_factor: int = 4) -> None:
        super().__init__()
        self.ball = ball
        self.edge_mlp = mlp(2 * dim, dim, mlp_factor * dim)
        self.agg_mlp = mlp(len(self.REDUCES) * dim, dim, mlp_factor * dim)

    def forward(
        self,
        graph: Graph,
        h: Tensor,
        edge_weight: Tensor | None = None,
        backend: ops.Backend = "auto",
    ) -> Tensor:
        x = self.ball.logmap0(h)
        x_i = ops.gather_dst(graph, x)
        x_j = ops.gather_src(graph, x)
        messages = self.edge_mlp(torch.cat([x_i, x_j - x_i], dim=-1))
        if edge_weight is not None:
            messages = messages * edge_weight.unsqueeze(-1)
        aggregated = ops.multi_aggregate(graph, messages, self.REDUCES, backend)
        return self.ball.expmap0(self.agg_mlp(aggregated))


class HyperbolicGraphLayer(nn.Module):
    """Linear → aggregation → activation on the ball: ``exp₀(σ(log₀ agg(W ⊗ x ⊕ b)))``."""

    def __init__(self, in_dim: int, out_dim: int, ball: PoincareBall, mlp_factor: int = 4) -> None:
        super().__init__()
        self.ball = ball
        self.linear = HyperbolicLinear(in_dim, out_dim, ball)
        self.aggregate = HyperbolicAggregation(out_dim, ball, mlp_factor)

    def forward(
        self,
        graph: Graph,
        x: Tensor,
        edge_weight: Tensor | None = None,
        backend: ops.Backend = "auto",
    ) -> Tensor:
        h = self.aggregate(graph, self.linear(x), edge_weight, backend)
        return self.ball.expmap0(F.gelu(self.ball.logmap0(h)))


class HyperbolicGraphNet(nn.Module):
    """Stack of :class:`HyperbolicGraphLayer` with tangent-space residuals.

    Input: tangent features ``[n, dims[0]]`` (mapped onto the ball by ``exp₀``). Output:
    tangent features, the concatenation of every layer's output
    ``[n, Σ dims[1:]]`` if ``concat`` else the last layer's ``[n, dims[-1]]``.
    """

    def __init__(
        self, dims: list[int], ball: PoincareBall, mlp_factor: int = 4, concat: bool = False
    ) -> None:
        super().__init__()
        if len(dims) < 2:
            raise ValueError(f"HyperbolicGraphNet needs at least one layer, got dims={dims}")
        self.ball = ball
        self.concat = concat
        self.layers = nn.ModuleList(
            HyperbolicGraphLayer(a, b, ball, mlp_factor) for a, b in itertools.pairwise(dims)
        )
        self.skips = nn.ModuleList(
            nn.Identity() if a == b else nn.Linear(a, b, bias=False)
            for a, b in itertools.pairwise(dims)
        )
        self.out_dim = sum(dims[1:]) if concat else dims[-1]

    def forward(
        self,
        graph: Graph,
        features: Tensor,
        edge_weight: Tensor | None = None,
        backend: ops.Backend = "auto",
    ) -> Tensor:
        x_tan = features
        x = self.ball.expmap0(x_tan)
        outputs = []
        for layer, skip in zip(self.layers, self.skips):
            h_tan = self.ball.logmap0(layer(graph, x, edge_weight, backend))
            x_tan = skip(self.ball.logmap0(x)) + h_tan
            outputs.append(x_tan)
            x = self.ball.expmap0(x_tan)
        return torch.cat(outputs, dim=-1) if self.concat else outputs[-1]


class Precoder(nn.Module):
    """ROMA's precoder: history window + positional encodings → hyperbolic embedding.

    ``features = [v, E_le·pe_le, E_rw·pe_rw] / √D`` (``v`` the harness's node inputs
    ``[n, κ+S]``, normalized history then offset-free state,
    each encoding type standardized per column then linearly embedded; dividing by
    ``√D`` keeps the tangent input's norm O(1) so ``exp₀`` does not saturate), then a
    :class:`HyperbolicGraphNet` with ``enc_depth`` layers of ``enc_width`` whose layer
    outputs are concatenated: ``z`` ``[n, enc_width·enc_depth]`` (tangent space at 0).
    """

    def __init__(
        self,
        input_dim: int,
        pe_sizes: tuple[int, int],
        pe_embed_dim: int,
        width: int,
        depth: int,
        ball: PoincareBall,
        mlp_factor: int = 4,
    ) -> None:
        super().__init__()
        self.pe_sizes = pe_sizes
        self.embed_le = nn.Linear(pe_sizes[0], pe_embed_dim) if pe_sizes[0] > 0 else None
        self.embed_rw = nn.Linear(pe_sizes[1], pe_embed_dim) if pe_sizes[1] > 0 else None
        in_dim = input_dim + pe_embed_dim * ((pe_sizes[0] > 0) + (pe_sizes[1] > 0))
        self.in_dim = in_dim
        self.net = HyperbolicGraphNet([in_dim] + [width] * depth, ball, mlp_factor, concat=True)
        self.out_dim = self.net.out_dim

    @staticmethod
    def standardize(x: Tensor, eps: float = 1e-6) -> Tensor:
        """Per-column z-score over the batch's nodes: ``(x − mean) / (std + eps)``."""
        if x.shape[0] < 2:
            return x
        return (x - x.mean(0, keepdim=True)) / (x.std(0, keepdim=True) + eps)

    def features(self, history: Tensor, le: Tensor, rw: Tensor) -> Tensor:
        parts = [history]
        if self.embed_le is not None:
            parts.append(self.embed_le(self.standardize(le)))
        if self.embed_rw is not None:
            parts.append(self.embed_rw(self.standardize(rw)))
        x = torch.cat(parts, dim=-1)
        return x / x.shape[-1] ** 0.5

    def forward(
        self,
        graph: Graph,
        history: Tensor,
        le: Tensor,
        rw: Tensor,
        backend: ops.Backend = "auto",
    ) -> Tensor:
        return self.net(graph, self.features(history, le, rw), None, backend)
