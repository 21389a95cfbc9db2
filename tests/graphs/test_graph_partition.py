"""Coarse partitions: METIS and communities as node → part vectors."""

from __future__ import annotations

import dgl
import pytest
import torch

from roma_bench.graphs.partition import community_partition, metis_partition


def ring_of_cliques(cliques: int, size: int) -> dgl.DGLGraph:
    src, dst = [], []
    for c in range(cliques):
        nodes = range(c * size, (c + 1) * size)
        src += [u for u in nodes for v in nodes if u != v]
        dst += [v for u in nodes for v in nodes if u != v]
        a, b = c * size, ((c + 1) % cliques) * size + 1
        src += [a, b]
        dst += [b, a]
    return dgl.graph((torch.tensor(src), torch.tensor(dst)))


def test_metis_covers_all_nodes_with_balanced_parts():
    graph = ring_of_cliques(8, 10)
    parts = metis_partition(graph, 4)
    assert parts.shape == (80,) and parts.dtype == torch.int64
    assert set(parts.tolist()) == {0, 1, 2, 3}
    assert int(torch.bincount(parts).min()) >= 15
    # METIS should not cut cliques: each clique in one part
    assert all(len(set(parts[c * 10 : (c + 1) * 10].tolist())) == 1 for c in range(8))


def test_metis_edge_cases():
    graph = ring_of_cliques(2, 4)
    assert torch.equal(metis_partition(graph, 1), torch.zeros(8, dtype=torch.int64))
    with pytest.raises(ValueError, match="parts must be a positive integer"):
        metis_partition(graph, 0)
    with pytest.raises(ValueError, match="parts must be at most the number of nodes"):
        metis_partition(graph, 9)


def test_community_partition_finds_the_cliques():
    graph = ring_of_cliques(6, 8)
    labels = community_partition(graph)
    assert labels.shape == (48,) and labels.dtype == torch.int64
    assert torch.equal(torch.unique(labels), torch.arange(6))
    assert all(len(set(labels[c * 8 : (c + 1) * 8].tolist())) == 1 for c in range(6))
    assert torch.equal(labels, community_partition(graph)), "not deterministic"


def test_community_partition_prefers_stored_labels():
    graph = ring_of_cliques(2, 4)
    graph.ndata["community"] = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0])
    assert torch.equal(community_partition(graph), graph.ndata["community"])
