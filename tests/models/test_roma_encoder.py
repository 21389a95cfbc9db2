"""Hyperbolic precoder: permutation equivariance, L-hop locality, backend agreement."""

from __future__ import annotations

import pytest
import torch
from graph_doubles import requires_dgl
from roma_helpers import random_graph

from roma_bench.graphs.backend import make_graph
from roma_bench.models.roma.encoder import HyperbolicGraphNet, Precoder
from roma_bench.models.roma.manifold import PoincareBall


def net(depth: int, d_in: int = 6, width: int = 8) -> HyperbolicGraphNet:
    torch.manual_seed(0)
    return HyperbolicGraphNet(
        [d_in] + [width] * depth, PoincareBall(1 / 8), mlp_factor=2, concat=True
    )


def test_output_shape_is_concatenated_layers() -> None:
    g = random_graph(30)
    out = net(3)(g, torch.randn(30, 6))
    assert out.shape == (30, 24)
    assert torch.all(torch.isfinite(out))


@pytest.mark.parametrize("backend", [pytest.param("dgl", marks=requires_dgl), "torch"])
def test_permutation_equivariance(backend: str) -> None:
    n = 40
    g = random_graph(n, seed=1)
    x = torch.randn(n, 6)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(3))
    inv = torch.argsort(perm)
    src, dst = g.edges()
    g_perm = make_graph(inv[src], inv[dst], num_nodes=n)  # node perm[k] becomes node k
    model = net(2)
    out = model(g, x, backend=backend)
    out_perm = model(g_perm, x[perm], backend=backend)
    assert torch.allclose(out_perm, out[perm], atol=1e-5)


def test_l_hop_locality() -> None:
    """An L-layer net's output at node v ignores every node farther than L hops from v."""
    n, depth = 60, 2
    g = random_graph(n, avg_degree=2.0, seed=2)  # a sparse tree-like graph: long distances
    src, dst = g.edges()
    hops = torch.full((n,), -1)
    frontier, hops[0] = [0], 0
    while frontier:
        nxt = []
        for u in frontier:
            for w in dst[src == u].tolist():  # successors of u
                if hops[w] < 0:
                    hops[w] = hops[u] + 1
                    nxt.append(w)
        frontier = nxt
    assert (hops > depth).any() and (hops == depth).any()
    model = net(depth)
    x = torch.randn(n, 6)
    base = model(g, x)[0]
    far = x.clone()
    far[hops > depth] += 10 * torch.randn(int((hops > depth).sum()), 6)
    assert torch.equal(model(g, far)[0], base)  # bitwise: far nodes never enter the sums
    near = x.clone()
    near[hops == depth] += 1.0
    assert (model(g, near)[0] - base).abs().max() > 1e-7


@requires_dgl
def test_dgl_and_torch_backends_agree() -> None:
    g = random_graph(50, seed=4)
    x = torch.randn(50, 6)
    model = net(2)
    w = torch.rand(g.num_edges())
    for weight in (None, w):
        a = model(g, x, weight, backend="dgl")
        b = model(g, x, weight, backend="torch")
        assert torch.allclose(a, b, atol=1e-5)


def test_precoder_inputs_and_gradients() -> None:
    torch.manual_seed(0)
    g = random_graph(25)
    pre = Precoder(
        input_dim=8,
        pe_sizes=(3, 2),
        pe_embed_dim=4,
        width=8,
        depth=2,
        ball=PoincareBall(1 / 8),
        mlp_factor=2,
    )
    assert pre.in_dim == 8 + 4 + 4 and pre.out_dim == 16
    hist = torch.randn(25, 8, requires_grad=True)
    z = pre(g, hist, torch.randn(25, 3), torch.randn(25, 2))
    assert z.shape == (25, 16)
    z.square().sum().backward()
    assert torch.all(torch.isfinite(hist.grad)) and hist.grad.abs().sum() > 0
    # per-column standardization of encodings
    pe = torch.randn(25, 3) * 7 + 3
    s = Precoder.standardize(pe)
    assert torch.allclose(s.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(s.std(0), torch.ones(3), atol=1e-4)
