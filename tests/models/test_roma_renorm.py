"""Fermi–Dirac link decoder and learned coarse-graining."""

from __future__ import annotations

import math

import torch
from roma_helpers import random_graph

from roma_bench.graphs.backend import HAVE_DGL
from roma_bench.models.roma.manifold import PoincareBall
from roma_bench.models.roma.renorm import (
    CoarseGraining,
    FermiDiracDecoder,
    coarse_adjacency,
    column_normalized_assignment,
    complete_graph,
    entropy,
)


def dense_adjacency(g, weight=None) -> torch.Tensor:
    src, dst = g.edges()
    A = torch.zeros(g.num_nodes(), g.num_nodes())
    A.index_put_(
        (dst, src), torch.ones(g.num_edges()) if weight is None else weight, accumulate=True
    )
    return A


def test_assignment_columns_sum_to_one() -> None:
    S = column_normalized_assignment(torch.randn(30, 7))
    assert torch.allclose(S.sum(0), torch.ones(7), atol=1e-6)
    assert torch.all(S >= 0)


def test_coarse_adjacency_matches_dense() -> None:
    g = random_graph(30, seed=1)
    S = column_normalized_assignment(torch.randn(30, 5))
    w = torch.rand(g.num_edges())
    for weight in (None, w):
        A = dense_adjacency(g, weight)
        for backend in ("dgl", "torch") if HAVE_DGL else ("torch",):
            got = coarse_adjacency(g, S, weight, backend)
            assert torch.allclose(got, S.T @ A @ S, atol=1e-5)


def test_complete_graph_edge_order() -> None:
    g = complete_graph(4)
    src, dst = g.edges()
    assert g.num_edges() == 16
    assert torch.equal(dst * 4 + src, torch.arange(16))  # edge i·m + j is j → i


def test_coarse_graining_levels() -> None:
    torch.manual_seed(0)
    g = random_graph(40, seed=2)
    pool = CoarseGraining(
        embed_dim=6, sizes=[8, 4], width=12, depth=2, ball=PoincareBall(1 / 8), mlp_factor=2
    )
    z, hist = torch.randn(40, 6), torch.randn(40, 5)
    out = pool(g, z, hist)
    assert [S.shape for S in out.assignments] == [(40, 8), (8, 4)]
    assert [f.shape for f in out.features] == [(8, 6), (4, 6)]
    assert [h.shape for h in out.histories] == [(8, 5), (4, 5)]
    for S in out.assignments:
        assert torch.allclose(S.sum(0), torch.ones(S.shape[1]), atol=1e-5)
    # level 0: SᵀAS on the fine graph; coarse histories are convex combinations
    A0 = dense_adjacency(g)
    S0 = out.assignments[0]
    assert torch.allclose(out.adjacencies[0], S0.T @ A0 @ S0, atol=1e-4)
    assert torch.allclose(out.histories[0], S0.T @ hist, atol=1e-5)
    for value in out.entropy_s + out.entropy_a:
        assert 0 <= float(value) <= 1 + 1e-5


def test_entropy() -> None:
    p = torch.full((8,), 1 / 8)
    assert math.isclose(float(entropy(p)), math.log(8), rel_tol=1e-6)
    assert float(entropy(torch.tensor([1.0, 0.0]))) == 0.0


def test_fermi_dirac_probability_and_loss() -> None:
    ball = PoincareBall(1 / 8)
    fd = FermiDiracDecoder(ball, r=0.5, t=3.0)
    x, y = ball.expmap0(torch.randn(10, 3)), ball.expmap0(torch.randn(10, 3))
    d2 = ball.sqdist(x, y)
    assert torch.allclose(fd.probability(x, y), 1 / (torch.exp((d2 - 0.5) / 3.0) + 1), atol=1e-6)
    assert torch.allclose(
        fd.probability(x, x), torch.full((10,), 1 / (math.exp(-0.5 / 3) + 1)), atol=1e-5
    )
    # embeddings that put neighbours close have a lower link loss than random ones
    g = random_graph(40, avg_degree=2.0, seed=3)
    gen = torch.Generator().manual_seed(0)
    src, dst = g.edges()
    walk = torch.randn(40, 2, generator=torch.Generator().manual_seed(1)) * 3
    smooth = walk.clone()
    for _ in range(20):  # diffuse: neighbours become close
        agg = torch.zeros_like(smooth).index_add_(0, dst, smooth[src])
        deg = torch.zeros(40).index_add_(0, dst, torch.ones(len(src))).clamp_min(1)
        smooth = 0.5 * smooth + 0.5 * agg / deg[:, None]
    smooth = smooth / smooth.std() * walk.std()
    good = fd.loss(g, smooth, generator=gen)
    bad = fd.loss(g, walk, generator=torch.Generator().manual_seed(0))
    assert good < bad
