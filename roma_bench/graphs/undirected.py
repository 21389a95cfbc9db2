"""Undirected views of a graph: unique edges ``u < v`` and PLM (Louvain) communities.

One canonical form of an undirected edge list, used by the generator, the statistics and
the coarse partitions alike: self loops dropped, duplicates and both directions merged
into ``u < v``, sorted by ``(u, v)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def canonical_undirected(
    src: np.ndarray, dst: np.ndarray, num_nodes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Unique undirected edges ``(u, v)``, ``u < v``, no self loops, sorted, int64 ``[M]``.

    Edge ``(a, b)`` and ``(b, a)`` are one edge; the key ``u·n + v`` orders them.
    """
    src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)
    u, v = np.minimum(src, dst), np.maximum(src, dst)
    keep = u != v
    n = max(int(num_nodes), 1)
    key = np.unique(u[keep] * n + v[keep])
    return key // n, key % n


def undirected_edges(graph: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`canonical_undirected` of a graph's edges (``graph.edges()``, ``num_nodes()``)."""
    src, dst = (t.numpy() for t in graph.edges())
    return canonical_undirected(src, dst, graph.num_nodes())


def plm_communities(num_nodes: int, src: np.ndarray, dst: np.ndarray, seed: int) -> np.ndarray:
    """NetworKit PLM (Louvain) labels ``[n]``, sequential (deterministic), renumbered 0..C−1
    in order of first appearance along the node ids."""
    import networkit as nk  # deferred: a large import, needed only here

    if num_nodes == 0 or len(src) == 0:
        return np.arange(num_nodes, dtype=np.int64)  # no edges: every node on its own
    nk_graph = nk.GraphFromCoo(
        (src.astype(np.uint64), dst.astype(np.uint64)), n=num_nodes, directed=False
    )
    nk.setSeed(int(seed), False)
    plm = nk.community.PLM(nk_graph, refine=False, par="none")
    plm.run()
    labels = np.asarray(plm.getPartition().getVector(), dtype=np.int64)
    return contiguous_labels(labels)


def contiguous_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber labels ``[n]`` to ``0..C−1`` in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]
