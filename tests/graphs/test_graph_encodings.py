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
