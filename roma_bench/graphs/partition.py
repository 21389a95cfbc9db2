"""Coarse partitions of a graph as a node → part vector ``[n]`` int64."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from roma_bench.graphs.backend import require_dgl
from roma_bench.graphs.undirected import plm_communities, undirected_edges

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph


def metis_partition(graph: Graph, parts: int) -> Tensor:
    """METIS (DGL) assignment of the nodes to ``parts`` balanced parts: ``[n]`` int64 in ``0..parts−1``.

    The graph is used as undirected; self loops are ignored. ``parts == 1`` gives
    all zeros. Needs DGL (its METIS binding) for ``parts > 1``.
    """
    if isinstance(parts, bool) or not isinstance(parts, int) or parts <= 0:
        raise ValueError(f"parts must be a positive integer, got {parts!r}")
    n = graph.num_nodes()
    if parts > max(n, 1):
        raise ValueError(f"parts must be at most the number of nodes ({n}), got {parts}")
    if parts == 1 or n == 0:
        return torch.zeros(n, dtype=torch.int64)
    dgl = require_dgl("METIS partitioning (a task card's `coarse.method: metis`)")
    src, dst = graph.edges()
    keep = src != dst
    simple = dgl.to_simple(
        dgl.graph(
            (torch.cat([src[keep], dst[keep]]), torch.cat([dst[keep], src[keep]])), num_nodes=n
        )
    )
    return dgl.metis_partition_assignment(simple, parts).to(torch.int64)


def community_partition(graph: Graph, seed: int = 0) -> Tensor:
    """Community of every node ``[n]`` int64 in ``0..C−1``.

    ``graph.ndata['community']`` when present (as :func:`hyperbolic_graph` stores),
    otherwise NetworKit PLM (Louvain) on the undirected graph, run sequentially with
    ``seed`` so it is deterministic; labels in order of first appearance.
    """
    if "community" in graph.ndata:
        return graph.ndata["community"].to(torch.int64)
    u, v = undirected_edges(graph)
    labels = plm_communities(graph.num_nodes(), u, v, seed)
    return torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
