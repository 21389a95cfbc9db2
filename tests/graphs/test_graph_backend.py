"""graphs.backend: the EdgeGraph versions of DGL's graph functions give DGL's graphs
(same edges in the same order, same node data), so sampling is the same with and without DGL."""

from __future__ import annotations

import pytest
import torch
from graph_doubles import requires_dgl

from roma_bench.graphs import backend
from roma_bench.graphs.backend import NID
from roma_bench.graphs.edge_graph import EdgeGraph
from roma_bench.graphs.sampler import RandomWalkSampler


def random_edges(seed: int, n: int = 30, m: int = 200):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, n, (m,), generator=gen), torch.randint(0, n, (m,), generator=gen), n


def edge_graph(src, dst, n) -> EdgeGraph:
    graph = EdgeGraph(src, dst, n)
    graph.ndata["x"] = torch.arange(n) * 10
    return graph


def test_edge_graph_helpers_by_hand():
    g = edge_graph(torch.tensor([0, 1, 1, 2, 2, 3]), torch.tensor([1, 0, 2, 2, 3, 0]), 4)
    sub = backend.node_subgraph(g, torch.tensor([2, 1, 3]))
    assert sub.num_nodes() == 3 and sub.ndata[NID].tolist() == [2, 1, 3]
    assert sub.ndata["x"].tolist() == [20, 10, 30]
    # edges ordered by the source's position in `nodes`: 2→2, 2→3, then 1→2
    assert [t.tolist() for t in sub.edges()] == [[0, 0, 1], [0, 2, 0]]
    indptr, indices = backend.csr(g)
    assert indptr.tolist() == [0, 1, 3, 5, 6] and indices.tolist() == [1, 0, 2, 2, 3, 0]
    looped = backend.add_self_loops(g)
    src, dst = looped.edges()
    assert src.tolist() == [0, 1, 1, 2, 3, 0, 1, 2, 3] and dst.tolist() == [
        1,
        0,
        2,
        3,
        0,
        0,
        1,
        2,
        3,
    ]
    assert looped.ndata["x"] is g.ndata["x"]


@requires_dgl
@pytest.mark.parametrize("seed", range(6))
def test_edge_graph_helpers_equal_dgl(seed: int):
    src, dst, n = random_edges(seed)
    reference = backend.make_graph(src, dst, n)
    reference.ndata["x"] = torch.arange(n) * 10
    graph = edge_graph(src, dst, n)
    nodes = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:12]
    if seed % 2:
        nodes = nodes.sort().values
    for got, want in (
        (backend.node_subgraph(graph, nodes), backend.node_subgraph(reference, nodes)),
        (backend.add_self_loops(graph), backend.add_self_loops(reference)),
    ):
        assert got.num_nodes() == want.num_nodes()
        for a, b in zip(got.edges(), want.edges()):
            assert torch.equal(a, b)
        for key in ("x", NID):
            if key in want.ndata:
                assert torch.equal(got.ndata[key], want.ndata[key]), key
    for a, b in zip(backend.csr(graph), backend.csr(reference)):
        assert torch.equal(a, b)


@requires_dgl
def test_random_walk_sampler_draws_the_same_subgraphs_on_both():
    src, dst, n = random_edges(3, n=60, m=300)
    both_src, both_dst = torch.cat([src, dst]), torch.cat([dst, src])
    allowed = torch.arange(0, 60, 2)
    samplers = [
        RandomWalkSampler(g, batch_nodes=12, walk_length=4, allowed=allowed, seed=1)
        for g in (EdgeGraph(both_src, both_dst, n), backend.make_graph(both_src, both_dst, n))
    ]
    for _ in range(3):
        got, want = (s.sample() for s in samplers)
        assert torch.equal(got.ndata[NID], want.ndata[NID])
        for a, b in zip(got.edges(), want.edges()):
            assert torch.equal(a, b)
