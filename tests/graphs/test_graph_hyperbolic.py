"""Hyperbolic random graphs: size, connectivity, degree law, coordinates, determinism."""

from __future__ import annotations

import math

import dgl
import networkit as nk
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from roma_bench.graphs.hyperbolic import generate_points_and_edges, hyperbolic_graph
from roma_bench.graphs.stats import graph_statistics


def components(graph: dgl.DGLGraph) -> int:
    src, dst = (t.numpy() for t in graph.edges())
    n = graph.num_nodes()
    adj = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    return connected_components(adj, directed=False)[0]


@pytest.fixture(scope="module")
def graph20k() -> dgl.DGLGraph:
    return hyperbolic_graph(20_000, seed=3)


def test_size_connectivity_and_structure(graph20k):
    g = graph20k
    assert abs(g.num_nodes() - 20_000) <= 0.02 * 20_000
    assert components(g) == 1
    src, dst = g.edges()
    assert not bool((src == dst).any()), "self loops"
    key = src * g.num_nodes() + dst
    assert len(torch.unique(key)) == g.num_edges(), "duplicate edges"
    assert bool(g.has_edges_between(dst, src).all()), "not bidirected"
    assert g.ndata["radius"].dtype == torch.float32 and g.ndata["angle"].dtype == torch.float32
    angle = g.ndata["angle"]
    assert bool((angle[1:] >= angle[:-1]).all()), "node ids are not in angular order"
    assert float(angle.min()) >= 0 and float(angle.max()) < 2 * math.pi
    community = g.ndata["community"]
    assert community.dtype == torch.int64
    assert torch.equal(torch.unique(community), torch.arange(int(community.max()) + 1))


def test_degree_tail_and_communities(graph20k):
    stats = graph_statistics(graph20k)
    assert abs(stats["gamma"] - 3.0) < 0.5, stats
    assert stats["communities"] > 20 and stats["modularity"] > 0.8, stats
    # the LCC sheds isolated and low-degree points: its mean degree is above the model's 3
    assert 3.0 < stats["mean_degree"] < 6.0, stats


@pytest.mark.parametrize("avg_degree, gamma", [(3.0, 3.0), (6.0, 2.5)])
def test_model_mean_degree_matches_target(avg_degree, gamma):
    _, _, _, nk_graph = generate_points_and_edges(60_000, avg_degree, gamma, 0.0, seed=5)
    mean_degree = 2 * nk_graph.numberOfEdges() / 60_000
    assert abs(mean_degree - avg_degree) <= 0.15 * avg_degree


def test_dense_graph_keeps_target_degree_in_final_graph():
    # far above the percolation threshold the LCC is nearly everything
    stats = graph_statistics(hyperbolic_graph(5_000, avg_degree=10.0, gamma=2.5, seed=1))
    assert abs(stats["nodes"] - 5_000) <= 100
    assert abs(stats["mean_degree"] - 10.0) <= 1.5, stats


def test_edges_are_exactly_the_pairs_within_the_disc_radius():
    n, k, gamma = 1500, 4.0, 2.7
    phi, r, R, nk_graph = generate_points_and_edges(n, k, gamma, 0.0, seed=2)
    dphi = np.pi - np.abs(np.pi - np.abs(phi[:, None] - phi[None, :]))
    cosh_d = np.cosh(r)[:, None] * np.cosh(r)[None, :] - np.sinh(r)[:, None] * np.sinh(r)[
        None, :
    ] * np.cos(dphi)
    within = np.arccosh(np.maximum(cosh_d, 1.0)) <= R
    np.fill_diagonal(within, False)
    expected = {(i, j) for i, j in zip(*np.nonzero(np.triu(within)))}
    actual = {(min(u, v), max(u, v)) for u, v in nk_graph.iterEdges()}
    assert len(actual ^ expected) <= 1e-3 * len(expected)  # float rounding at the threshold


def test_same_seed_same_graph_other_seed_other_graph():
    a, b = hyperbolic_graph(3_000, seed=11), hyperbolic_graph(3_000, seed=11)
    assert all(torch.equal(x, y) for x, y in zip(a.edges(), b.edges()))
    for key in ("radius", "angle", "community"):
        assert torch.equal(a.ndata[key], b.ndata[key])
    c = hyperbolic_graph(3_000, seed=12)
    assert not torch.equal(a.ndata["radius"], c.ndata["radius"])


def test_positive_temperature_is_deterministic():
    a = hyperbolic_graph(400, avg_degree=4.0, gamma=2.5, temperature=0.3, seed=4)
    b = hyperbolic_graph(400, avg_degree=4.0, gamma=2.5, temperature=0.3, seed=4)
    assert abs(a.num_nodes() - 400) <= 8 and components(a) == 1
    assert all(torch.equal(x, y) for x, y in zip(a.edges(), b.edges()))


def test_networkit_threads_restored_after_temperature():
    before = nk.getMaxNumberOfThreads()
    hyperbolic_graph(200, avg_degree=4.0, gamma=2.5, temperature=0.2, seed=0)
    assert nk.getMaxNumberOfThreads() == before


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"nodes": 0}, "nodes"),
        ({"nodes": -5}, "nodes"),
        ({"nodes": 100, "gamma": 2.0}, "gamma"),
        ({"nodes": 100, "avg_degree": 0.0}, "avg_degree"),
        ({"nodes": 100, "temperature": 1.0}, "temperature"),
        ({"nodes": 100, "temperature": -0.1}, "temperature"),
    ],
)
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        hyperbolic_graph(**kwargs)


@pytest.mark.slow
def test_100k_graph_degree_exponent():
    graph = hyperbolic_graph(100_000, seed=0)
    stats = graph_statistics(graph)
    assert abs(stats["nodes"] - 100_000) <= 2_000
    assert components(graph) == 1
    assert abs(stats["gamma"] - 3.0) < 0.5, stats
