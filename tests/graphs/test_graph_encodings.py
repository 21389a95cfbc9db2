"""Positional encodings: Laplacian eigenvectors and random-walk return probabilities."""

from __future__ import annotations

import dgl
import numpy as np
import pytest
import torch

from roma_bench.graphs import encodings
from roma_bench.graphs.encodings import (
    laplacian_pe,
    normalized_laplacian,
    positional_encodings,
    random_walk_pe,
)


def random_graph(n: int, m: int, seed: int) -> dgl.DGLGraph:
    rng = np.random.default_rng(seed)
    # a ring keeps it connected, random chords make the spectrum generic
    u = np.concatenate([np.arange(n), rng.integers(0, n, m)])
    v = np.concatenate([(np.arange(n) + 1) % n, rng.integers(0, n, m)])
    return dgl.graph(
        (torch.from_numpy(np.concatenate([u, v])), torch.from_numpy(np.concatenate([v, u])))
    )


@pytest.mark.parametrize("n, dense_max", [(120, 768), (300, 0)])
def test_laplacian_pe_are_orthonormal_eigenvectors(n, dense_max, monkeypatch):
    monkeypatch.setattr(encodings, "DENSE_EIGEN_MAX_NODES", dense_max)
    graph = random_graph(n, n // 2, seed=n)
    k = 8
    pe = laplacian_pe(graph, k).double().numpy()
    assert pe.shape == (n, k)
    np.testing.assert_allclose(pe.T @ pe, np.eye(k), atol=1e-5)
    lap = normalized_laplacian(graph).toarray()
    values = np.linalg.eigvalsh(lap)
    for j in range(k):
        v = pe[:, j]
        rayleigh = v @ lap @ v
        assert np.linalg.norm(lap @ v - rayleigh * v) < 1e-4
        assert rayleigh == pytest.approx(values[j + 1], abs=1e-5)  # skips the trivial eigenvalue 0
        assert v[np.argmax(np.abs(v))] > 0  # sign convention


def _stalled_arpack(*args, **kwargs):
    raise encodings.ArpackNoConvergence("No convergence (7/9 eigenvectors converged)", [], [])


def test_laplacian_pe_falls_back_to_lapack_when_arpack_does_not_converge(monkeypatch):
    graph = random_graph(300, 150, seed=300)
    expected = laplacian_pe(graph, 8)  # dense LAPACK: 300 ≤ DENSE_EIGEN_MAX_NODES
    monkeypatch.setattr(encodings, "DENSE_EIGEN_MAX_NODES", 0)  # ARPACK's path ...
    monkeypatch.setattr(encodings, "eigsh", _stalled_arpack)  # ... and it stalls
    torch.testing.assert_close(laplacian_pe(graph, 8), expected, rtol=0, atol=0)
    monkeypatch.setattr(encodings, "DENSE_FALLBACK_MAX_NODES", 299)  # too big for the fallback
    with pytest.raises(
        ValueError, match=r"300-node graph: ARPACK did not converge.*laplacian_scope"
    ):
        laplacian_pe(graph, 8)


@pytest.mark.slow
def test_a_training_region_of_many_components_gets_its_encodings(km_tiny_store, monkeypatch):
    """Regression: km-tiny's whole training region as one 2048-node batch (~1,400 nodes in
    many components) stalled ARPACK (7 of 9 eigenvectors after 15,431 iterations)."""
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.store import TaskStore

    monkeypatch.setenv("ROMA_BENCH_ENCODING_CACHE", "off")
    with TaskStore(km_tiny_store) as store:
        store.card.batch.nodes = 2048
        batch = WindowLoader(store, "train", seed=0).sample()
    assert batch.num_nodes > encodings.DENSE_EIGEN_MAX_NODES
    assert torch.isfinite(batch.encodings).all()


def test_laplacian_pe_pads_small_graphs():
    graph = dgl.graph(([0, 1, 1, 2], [1, 0, 2, 1]))
    pe = laplacian_pe(graph, 5)
    assert pe.shape == (3, 5)
    assert torch.count_nonzero(pe[:, 2:]) == 0 and torch.count_nonzero(pe[:, :2]) > 0
    assert laplacian_pe(dgl.graph(([], []), num_nodes=0), 4).shape == (0, 4)


def test_random_walk_pe_matches_matrix_powers(monkeypatch):
    monkeypatch.setattr(encodings, "RW_BLOCK", 7)  # exercise the column blocks
    graph = random_graph(30, 20, seed=1)
    graph = dgl.add_nodes(graph, 1)  # one isolated node
    adj = encodings.adjacency(graph).toarray()
    degree = adj.sum(1)
    walk = np.divide(adj, degree[:, None], out=np.zeros_like(adj), where=degree[:, None] > 0)
    expected = np.stack([np.diag(np.linalg.matrix_power(walk, s)) for s in range(1, 7)], axis=1)
    np.testing.assert_allclose(random_walk_pe(graph, 6).numpy(), expected, atol=1e-6)
    assert float(random_walk_pe(graph, 6)[:, 0].abs().max()) == 0.0  # no self loops: P_ii = 0


def test_positional_encodings_concatenate_standardized_parts():
    graph = random_graph(200, 100, seed=3)
    pe = positional_encodings(graph, laplacian=6, random_walk=4)
    assert pe.shape == (200, 10) and pe.dtype == torch.float32
    used = pe[:, pe.std(0) > 0]
    torch.testing.assert_close(used.mean(0), torch.zeros(used.shape[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        used.std(0, unbiased=False), torch.ones(used.shape[1]), atol=1e-4, rtol=0
    )
    assert positional_encodings(graph, 0, 0).shape == (200, 0)


def test_bad_k_is_named():
    graph = random_graph(10, 2, seed=0)
    with pytest.raises(ValueError, match="k must be"):
        laplacian_pe(graph, -1)


def disjoint_union(*graphs: dgl.DGLGraph) -> tuple[dgl.DGLGraph, list[np.ndarray]]:
    """The graphs side by side, node ids shuffled; each graph's node ids in the union."""
    union = dgl.batch(list(graphs))
    n = union.num_nodes()
    perm = np.random.default_rng(0).permutation(n)  # interleave the components
    src, dst = (perm[t.numpy()] for t in union.edges())
    shuffled = dgl.graph((torch.from_numpy(src), torch.from_numpy(dst)), num_nodes=n)
    sizes = np.cumsum([0, *(g.num_nodes() for g in graphs)])
    return shuffled, [perm[sizes[i] : sizes[i + 1]] for i in range(len(graphs))]


@pytest.mark.parametrize("dense_max", [4096, 0])  # dense blocks, or sparse per component
def test_component_scope_gives_each_component_its_own_modes(dense_max, monkeypatch):
    """On a disconnected subgraph the graph-scope columns span component indicators (their
    eigenvalues are 0); the component scope gives every component its own eigenvectors."""
    monkeypatch.setattr(encodings, "COMPONENT_DENSE_MAX_NODES", dense_max)
    parts = [random_graph(40, 20, seed=1), random_graph(25, 10, seed=2), random_graph(12, 6, 5)]
    union, ids = disjoint_union(*parts)
    union = dgl.add_nodes(union, 1)  # an isolated node
    k = 5
    pe = laplacian_pe(union, k, scope="component").numpy()
    for part, nodes in zip(parts, ids, strict=True):
        np.testing.assert_allclose(pe[nodes], laplacian_pe(part, k).numpy(), atol=1e-5)
    assert np.count_nonzero(pe[-1]) == 0
    values, _ = encodings.laplacian_eigenpairs(union, k)
    # three components with edges: two more zero eigenvalues (an isolated node's L_ii is 1)
    assert np.allclose(values[:2], 0.0, atol=1e-8) and values[2] > 1e-3
    connected = random_graph(50, 20, seed=4)
    torch.testing.assert_close(laplacian_pe(connected, k, "component"), laplacian_pe(connected, k))
    both = positional_encodings(union, k, 2, laplacian_scope="component")
    assert both.shape == (union.num_nodes(), k + 2)
    with pytest.raises(ValueError, match="scope must be one of"):
        laplacian_pe(union, k, scope="region")


def test_a_card_names_a_bad_laplacian_scope():
    from roma_bench.cards import EncodingCard
    from roma_bench.config import ConfigError, validate

    assert EncodingCard().laplacian_scope == "graph"  # the v2 cards
    with pytest.raises(ConfigError, match="laplacian_scope"):
        validate(EncodingCard, {"laplacian_scope": "region"}, "km-x.yaml: encodings")


def test_the_default_scope_leaves_the_resolved_card_and_its_stores_checksums_as_they_were():
    from roma_bench.cards import load_card

    card = load_card("km-tiny")
    assert "laplacian_scope" not in card.resolved()["encodings"]  # v2 stores stay valid
    scoped = card.model_copy(
        update={"encodings": card.encodings.model_copy(update={"laplacian_scope": "component"})}
    )
    assert scoped.resolved()["encodings"]["laplacian_scope"] == "component"
