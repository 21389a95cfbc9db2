"""Held-out node splits and the random-walk subgraph sampler."""

from __future__ import annotations

import dgl
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import connected_components

from roma_bench.graphs.sampler import (
    RandomWalkSampler,
    _first_visit_unique,
    induced_subgraph,
    nested_region,
    node_split,
    stepwise_walks,
)


def grid(side: int) -> dgl.DGLGraph:
    """Bidirected ``side × side`` grid graph."""
    ids = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate(
        [
            np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1),
            np.stack([ids[:-1].ravel(), ids[1:].ravel()], 1),
        ]
    )
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=side * side)


def is_connected(graph: dgl.DGLGraph, nodes: torch.Tensor) -> bool:
    sub = induced_subgraph(graph, nodes)
    src, dst = (t.numpy() for t in sub.edges())
    n = sub.num_nodes()
    return (
        connected_components(sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(n, n)))[0] == 1
    )


@pytest.fixture(scope="module")
def graph() -> dgl.DGLGraph:
    return grid(60)  # 3600 nodes


def test_node_split_is_a_disjoint_cover_of_connected_regions(graph):
    split = node_split(graph, val_nodes=300, test_nodes=200, seed=0)
    assert (len(split.train), len(split.val), len(split.test)) == (3100, 300, 200)
    union = torch.cat([split.train, split.val, split.test])
    assert torch.equal(torch.sort(union).values, torch.arange(3600))
    assert is_connected(graph, split.val) and is_connected(graph, split.test)
    again = node_split(graph, val_nodes=300, test_nodes=200, seed=0)
    assert torch.equal(again.val, split.val) and torch.equal(again.test, split.test)
    other = node_split(graph, val_nodes=300, test_nodes=200, seed=1)
    assert not torch.equal(other.val, split.val)


def test_node_split_rejects_bad_sizes(graph):
    with pytest.raises(ValueError, match="val_nodes"):
        node_split(graph, val_nodes=-1, test_nodes=5, seed=0)
    with pytest.raises(ValueError, match="must leave training nodes"):
        node_split(graph, val_nodes=3000, test_nodes=600, seed=0)


def test_samples_have_the_asked_size_and_map_to_real_edges(graph):
    sampler = RandomWalkSampler(graph, batch_nodes=256, walk_length=8, seed=0)
    for _ in range(5):
        sub = sampler.sample()
        assert sub.num_nodes() == 256
        original = sub.ndata[dgl.NID]
        assert len(torch.unique(original)) == 256
        src, dst = sub.edges()
        assert sub.num_edges() > 0
        assert bool(graph.has_edges_between(original[src], original[dst]).all())
        # induced: every parent edge between sampled nodes is present
        expected = induced_subgraph(graph, original)
        assert expected.num_edges() == sub.num_edges()


def test_held_out_nodes_never_appear_in_training_subgraphs(graph):
    split = node_split(graph, val_nodes=400, test_nodes=400, seed=2)
    sampler = RandomWalkSampler(graph, batch_nodes=300, walk_length=16, allowed=split.train, seed=1)
    held_out = set(torch.cat([split.val, split.test]).tolist())
    seen = set()
    for _ in range(40):
        ids = sampler.sample().ndata[dgl.NID].tolist()
        assert held_out.isdisjoint(ids)
        seen.update(ids)
    assert len(seen) > 0.5 * len(split.train)  # the walks cover the training region


def test_sampling_is_reproducible_with_a_generator(graph):
    sampler = RandomWalkSampler(graph, batch_nodes=128)
    a = sampler.sample(torch.Generator().manual_seed(5)).ndata[dgl.NID]
    b = sampler.sample(torch.Generator().manual_seed(5)).ndata[dgl.NID]
    c = sampler.sample(torch.Generator().manual_seed(6)).ndata[dgl.NID]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_small_allowed_set_and_isolated_nodes():
    graph = dgl.graph(([0, 1], [1, 0]), num_nodes=4)  # nodes 2 and 3 isolated
    sampler = RandomWalkSampler(graph, batch_nodes=10, allowed=torch.tensor([0, 1, 3]))
    ids = sorted(sampler.sample().ndata[dgl.NID].tolist())
    assert ids == [0, 1, 3]
    with pytest.raises(ValueError, match="allowed"):
        RandomWalkSampler(graph, batch_nodes=2, allowed=torch.tensor([7]))
    with pytest.raises(ValueError, match="batch_nodes"):
        RandomWalkSampler(graph, batch_nodes=0)


def test_induced_subgraph_keeps_ids_and_features(graph):
    graph = graph.clone()
    graph.ndata["x"] = torch.arange(graph.num_nodes(), dtype=torch.float32)
    sub = induced_subgraph(graph, torch.tensor([5, 6, 66]))
    assert sub.ndata[dgl.NID].tolist() == [5, 6, 66]
    assert sub.ndata["x"].tolist() == [5.0, 6.0, 66.0]
    assert sub.num_edges() == 4  # 5–6 and 6–66, both directions


def test_nested_regions_are_connected_and_nested(graph):
    """Data scaling: ¼ ⊂ ½ ⊂ all of the training nodes, each a connected region."""
    train = node_split(graph, 400, 400, seed=3).train
    regions = {f: nested_region(graph, train, f, seed=7) for f in (0.25, 0.5, 1.0)}
    assert [len(regions[f]) for f in (0.25, 0.5)] == [-(-len(train) // 4), -(-len(train) // 2)]
    assert torch.equal(regions[1.0], train)
    assert set(regions[0.25].tolist()) <= set(regions[0.5].tolist()) <= set(train.tolist())
    assert is_connected(graph, regions[0.25]) and is_connected(graph, regions[0.5])
    assert torch.equal(nested_region(graph, train, 0.25, seed=7), regions[0.25])  # seeded
    assert not torch.equal(nested_region(graph, train, 0.25, seed=8), regions[0.25])
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="expected 0 < fraction ≤ 1"):
            nested_region(graph, train, bad, seed=0)


@pytest.mark.parametrize("walk_length", [0, 1, 16])
def test_walks_follow_the_stepwise_rule_draw_for_draw(graph, walk_length):
    """The NumPy walks (one block of draws) equal the step-by-step rule, and leave the
    generator where it would leave it: the boards' batches depend on both."""
    allowed = torch.arange(0, graph.num_nodes(), 2)  # a checkerboard: many dead ends
    isolated = torch.tensor([0, 2, 4, 61, 62])  # 0 and 4 have no allowed neighbour
    for subset in (None, allowed, isolated):
        sampler = RandomWalkSampler(graph, batch_nodes=64, walk_length=walk_length, allowed=subset)
        roots = torch.randint(sampler.graph.num_nodes(), (37,), generator=torch.Generator())
        a, b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
        assert torch.equal(
            sampler._walks(roots, a),
            stepwise_walks(sampler._indptr, sampler._indices, roots, walk_length, b),
        )
        assert torch.equal(torch.rand(4, generator=a), torch.rand(4, generator=b))


def test_walk_tables_share_the_csr_unless_a_node_is_isolated(graph):
    """At scale the tables are per sampler process: without isolated nodes ``start`` and
    ``targets`` are views of the CSR, not copies (+8 N + 8 E bytes), and walking leaves
    the CSR as it was."""
    sampler = RandomWalkSampler(graph, batch_nodes=64, walk_length=8)
    start, _, _, targets = sampler._walk_tables
    indptr, indices = sampler._indptr.clone(), sampler._indices.clone()
    assert np.shares_memory(start, sampler._indptr.numpy())
    assert np.shares_memory(targets, sampler._indices.numpy())
    sampler.sample(torch.Generator().manual_seed(0))
    assert torch.equal(sampler._indptr, indptr) and torch.equal(sampler._indices, indices)
    dead_ends = RandomWalkSampler(graph, batch_nodes=8, allowed=torch.tensor([0, 2, 4, 61]))
    start, _, _, targets = dead_ends._walk_tables
    assert not np.shares_memory(targets, dead_ends._indices.numpy())
    assert len(targets) == len(dead_ends._indices) + int((np.diff(dead_ends._indptr) == 0).sum())


def test_walks_on_a_graph_without_edges_stay_put():
    sampler = RandomWalkSampler(dgl.graph(([], []), num_nodes=5), batch_nodes=3, walk_length=4)
    roots = torch.tensor([4, 0, 2])
    a, b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    walks = sampler._walks(roots, a)
    assert torch.equal(walks, roots[:, None].expand(3, 5))
    assert torch.equal(walks, stepwise_walks(sampler._indptr, sampler._indices, roots, 4, b))


def test_sampled_nodes_are_distinct_in_order_of_first_visit(graph):
    sampler = RandomWalkSampler(graph, batch_nodes=200, walk_length=8)
    nodes = sampler.sample_nodes(torch.Generator().manual_seed(1))
    assert len(nodes) == len(torch.unique(nodes)) == 200
    walks = sampler._walks(torch.tensor([5, 7]), torch.Generator().manual_seed(2)).reshape(-1)
    first = [int(v) for i, v in enumerate(walks) if int(v) not in walks[:i].tolist()]
    assert _first_visit_unique(walks).tolist() == first
