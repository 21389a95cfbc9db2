"""Graph layer: hyperbolic random graphs (NetworKit → DGL), message-passing dispatch,
random-walk subgraph sampling with held-out node splits, positional encodings and
coarse partitions. NetworKit is imported lazily, inside the functions that use it.

Names are imported on first use. :mod:`roma_bench.graphs.backend` is the one module that
imports DGL; where DGL cannot be imported, graphs are :class:`EdgeGraph` objects and
everything but METIS partitioning runs on torch.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "laplacian_pe": "encodings",
    "positional_encodings": "encodings",
    "random_walk_pe": "encodings",
    "hyperbolic_graph": "hyperbolic",
    "EdgeGraph": "edge_graph",
    "aggregate": "ops",
    "edge_softmax": "ops",
    "gather_dst": "ops",
    "gather_src": "ops",
    "multi_aggregate": "ops",
    "weighted_sum": "ops",
    "community_partition": "partition",
    "metis_partition": "partition",
    "NodeSplit": "sampler",
    "RandomWalkSampler": "sampler",
    "induced_subgraph": "sampler",
    "nested_region": "sampler",
    "node_split": "sampler",
    "graph_statistics": "stats",
    "modularity": "stats",
    "power_law_exponent": "stats",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    """``roma_bench.graphs.aggregate`` and friends, imported from their module on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(f"roma_bench.graphs.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'roma_bench.graphs' has no attribute {name!r}")
