"""Graph statistics: power-law fit, modularity, counts."""

from __future__ import annotations

import dgl
import networkit as nk
import numpy as np
import pytest
import torch

from roma_bench.graphs.stats import graph_statistics, modularity, power_law_exponent


def two_triangles() -> dgl.DGLGraph:
    """Triangles {0,1,2} and {3,4,5} joined by the edge 2–3, both directions, plus a self loop."""
    pairs = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
    src = [u for u, v in pairs] + [v for u, v in pairs] + [0]
    dst = [v for u, v in pairs] + [u for u, v in pairs] + [0]
    return dgl.graph((src, dst))


@pytest.mark.parametrize("exponent", [2.5, 3.0])
def test_power_law_exponent_recovers_zipf(exponent):
    degrees = np.random.default_rng(0).zipf(exponent, 50_000)
    gamma, _ = power_law_exponent(degrees, xmin=6)
    assert abs(gamma - exponent) < 0.25  # ~2σ for a tail of ~10³ samples
    gamma_auto, xmin = power_law_exponent(degrees)
    assert abs(gamma_auto - exponent) < 0.3 and xmin >= 1


def test_power_law_exponent_degenerate_input():
    gamma, xmin = power_law_exponent(np.array([0, 0, 1]))
    assert np.isnan(gamma) and xmin == 0


def test_counts_and_modularity_of_two_triangles():
    graph = two_triangles()
    graph.ndata["community"] = torch.tensor([0, 0, 0, 1, 1, 1])
    stats = graph_statistics(graph)
    assert stats["nodes"] == 6 and stats["edges"] == 7  # self loop and reverse edges not counted
    assert stats["mean_degree"] == pytest.approx(14 / 6)
    assert stats["communities"] == 2
    # Q = Σ_c L_c/m − (d_c/2m)² = 2·(3/7 − (7/14)²) = 6/7 − 1/2
    assert stats["modularity"] == pytest.approx(6 / 7 - 0.5)


def test_modularity_matches_networkit():
    rng = np.random.default_rng(1)
    n = 60
    u = rng.integers(0, n, 200)
    v = rng.integers(0, n, 200)
    keep = u < v
    key = np.unique(u[keep] * n + v[keep])
    u, v = key // n, key % n
    labels = rng.integers(0, 4, n)
    graph = nk.GraphFromCoo((u.astype(np.uint64), v.astype(np.uint64)), n=n, directed=False)
    partition = nk.structures.Partition(n, [int(x) for x in labels])
    expected = nk.community.Modularity().getQuality(partition, graph)
    assert modularity(n, u, v, labels) == pytest.approx(expected, abs=1e-12)


def test_statistics_without_communities_runs_plm():
    stats = graph_statistics(two_triangles())
    assert stats["communities"] == 2
    assert stats["modularity"] == pytest.approx(6 / 7 - 0.5)
