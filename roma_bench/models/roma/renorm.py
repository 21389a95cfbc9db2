"""Neural analogs of renormalization: a Fermi–Dirac link decoder and learned coarse-graining.

**Geometric renormalization analog** (:class:`FermiDiracDecoder`): the precoder's
embedding ``x_i = exp₀(z_i)`` on the Poincaré ball predicts links with the
Fermi–Dirac probability ``p_ij = 1 / (exp((d(x_i, x_j)² − r)/t) + 1)``. It is trained
with a balanced loss, the mean of the binary cross-entropy over the subgraph's edges
and over as many (``neg_ratio`` ×) uniformly sampled node pairs (non-edges; a sampled
pair that happens to be an edge is rare in sparse graphs and kept):
``L_link = ½ [mean_{(i,j)∈E} −log p_ij + mean_{(i,j)∉E} −log(1 − p_ij)]``.
As in the reference, ``r`` and ``t`` are learned (``t = exp(log t) > 0``; initial values
from the config). With them fixed at ``r = 0.5``, ``t = 3`` no pair is more probable than
``σ(r/t) = 0.54`` and the link loss cannot fall below ``½ softplus(−r/t) = 0.308``;
``learn_rt=False`` keeps them fixed (an ablation).

**Laplacian renormalization analog** (:class:`CoarseGraining`): at level ``l`` a
second hyperbolic encoder gives scores ``s`` ``[n_l, m_l]``; after a LayerNorm each
column is normalized, ``S_ij = s_ij² / Σ_i s_ij²`` (columns of ``S`` sum to 1), and

- supernode features ``Z_{l+1} = Sᵀ E_l`` (``E_l`` the level's embedding network output),
- coarse history ``U_{l+1} = Sᵀ U_l`` (a convex combination: same units as the fine field),
- coarse graph ``A_{l+1} = Sᵀ A_l S`` ``[m, m]`` (as a complete weighted graph for the next level),
- regularizers: ``H_S = mean_j(−Σ_i S_ij log S_ij) / log n`` (assignment entropy) and
  ``H_A = −Σ P log P / log m²`` with ``P = A_{l+1}/ΣA_{l+1}`` (coarse-adjacency entropy),
  both normalized to ``[0, 1]``; weighted by ``w_pool_s``, ``w_pool_a``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from roma_bench.graphs import ops
from roma_bench.graphs.backend import make_graph
from roma_bench.models.roma.encoder import HyperbolicGraphNet
from roma_bench.models.roma.manifold import PoincareBall

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph


class FermiDiracDecoder(nn.Module):
    """``p_ij = σ(−(d_ij² − r)/t)`` on ball points; :meth:`loss` is the balanced link loss.

    ``r`` (chemical potential) and ``log t`` (temperature) are parameters, trained with the
    model unless ``learn_rt`` is False (then they are frozen at their initial values).
    """

    def __init__(
        self,
        ball: PoincareBall,
        r: float = 0.5,
        t: float = 3.0,
        neg_ratio: int = 1,
        learn_rt: bool = True,
    ):
        super().__init__()
        if t <= 0:
            raise ValueError(f"Fermi–Dirac temperature t must be > 0, got {t}")
        self.ball = ball
        self.r = nn.Parameter(torch.tensor(float(r)), requires_grad=learn_rt)
        self.log_t = nn.Parameter(torch.tensor(math.log(t)), requires_grad=learn_rt)
        self.neg_ratio = int(neg_ratio)

    @property
    def t(self) -> Tensor:
        """The temperature ``t = exp(log t) > 0`` (a 0-d tensor)."""
        return self.log_t.exp()

    def logits(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        """``−(d² − r)/t`` for ball points ``[k, d]`` (the probability is its sigmoid)."""
        return -(self.ball.sqdist(x_i, x_j) - self.r) / self.t

    def probability(self, x_i: Tensor, x_j: Tensor) -> Tensor:
        return torch.sigmoid(self.logits(x_i, x_j))

    def loss(self, graph: Graph, z: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Balanced edge/non-edge BCE for tangent embeddings ``z`` ``[n, d]`` of ``graph``."""
        n = z.shape[0]
        if graph.num_edges() == 0 or n < 2:
            return z.sum() * 0.0
        x = self.ball.expmap0(z)
        src, dst = ops.edge_index(graph, z.device)
        pos = self.logits(x[src], x[dst])
        k = self.neg_ratio * src.numel()
        a = torch.randint(0, n, (k,), generator=generator).to(z.device)
        b = (a + torch.randint(1, n, (k,), generator=generator).to(z.device)) % n  # never a == b
        neg = self.logits(x[a], x[b])
        pos_loss = F.binary_cross_entropy_with_logits(pos, torch.ones_like(pos))
        neg_loss = F.binary_cross_entropy_with_logits(neg, torch.zeros_like(neg))
        return 0.5 * (pos_loss + neg_loss)


def column_normalized_assignment(scores: Tensor, eps: float = 1e-12) -> Tensor:
    """``S_ij = s_ij² / Σ_i s_ij²`` for scores ``[n, m]``: every column of ``S`` sums to 1."""
    sq = scores * scores
    return sq / sq.sum(0, keepdim=True).clamp_min(eps)


def coarse_adjacency(
    graph: Graph,
    S: Tensor,
    edge_weight: Tensor | None = None,
    backend: ops.Backend = "auto",
) -> Tensor:
    """``SᵀAS`` ``[m, m]`` with ``A_ij = w_e`` for each edge ``e = j → i`` (1 if unweighted)."""
    AS = ops.weighted_sum(graph, S, edge_weight, backend)  # (AS)_i = Σ_{j→i} w S_j
    return S.transpose(0, 1) @ AS


_COMPLETE: dict[int, Graph] = {}


def complete_graph(m: int) -> Graph:
    """The complete directed graph on ``m`` nodes with self-loops; edge ``i·m + j`` is ``j → i``."""
    if m not in _COMPLETE:
        dst = torch.arange(m).repeat_interleave(m)
        src = torch.arange(m).repeat(m)
        _COMPLETE[m] = make_graph(src, dst, num_nodes=m)
    return _COMPLETE[m]


def entropy(p: Tensor, dim: int | None = None) -> Tensor:
    """``−Σ p log p`` (over ``dim``, or all entries), with ``0 log 0 = 0``."""
    terms = -p * torch.log(p.clamp_min(1e-30))
    return terms.sum() if dim is None else terms.sum(dim)


@dataclass
class CoarseLevels:
    """What :class:`CoarseGraining` returns; lists have one entry per level."""

    features: list[Tensor] = field(default_factory=list)  # [m_l, d] supernode embeddings
    histories: list[Tensor] = field(default_factory=list)  # [m_l, κ] coarse histories
    assignments: list[Tensor] = field(default_factory=list)  # [n_l, m_l] S
    adjacencies: list[Tensor] = field(default_factory=list)  # [m_l, m_l] SᵀAS
    entropy_s: list[Tensor] = field(default_factory=list)
    entropy_a: list[Tensor] = field(default_factory=list)


class CoarseGraining(nn.Module):
    """Learned multi-level coarse-graining (see the module docstring for the formulas)."""

    def __init__(
        self,
        embed_dim: int,
        sizes: list[int],
        width: int,
        depth: int,
        ball: PoincareBall,
        mlp_factor: int = 4,
    ) -> None:
        super().__init__()
        self.sizes = list(sizes)
        hidden = [width] * (depth - 1)
        self.embed = nn.ModuleList(
            HyperbolicGraphNet([embed_dim, *hidden, embed_dim], ball, mlp_factor) for _ in sizes
        )
        self.assign = nn.ModuleList(
            HyperbolicGraphNet([embed_dim, *hidden, m], ball, mlp_factor) for m in sizes
        )
        self.norms = nn.ModuleList(nn.LayerNorm(m) for m in sizes)

    def forward(
        self, graph: Graph, z: Tensor, history: Tensor, backend: ops.Backend = "auto"
    ) -> CoarseLevels:
        out = CoarseLevels()
        weight: Tensor | None = None
        for level, m in enumerate(self.sizes):
            embedding = self.embed[level](graph, z, weight, backend)
            scores = self.norms[level](self.assign[level](graph, z, weight, backend))
            S = column_normalized_assignment(scores)
            A = coarse_adjacency(graph, S, weight, backend)
            z = S.transpose(0, 1) @ embedding
            history = S.transpose(0, 1) @ history
            n = S.shape[0]
            out.features.append(z)
            out.histories.append(history)
            out.assignments.append(S)
            out.adjacencies.append(A)
            out.entropy_s.append(
                entropy(S, 0).mean() / max(torch.log(torch.tensor(n)).item(), 1e-6)
            )
            P = A / A.sum().clamp_min(1e-12)
            out.entropy_a.append(entropy(P) / max(2 * torch.log(torch.tensor(m)).item(), 1e-6))
            graph = complete_graph(m)
            weight = (A / A.mean().clamp_min(1e-12)).reshape(-1)
        return out
