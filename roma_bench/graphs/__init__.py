"""Graph layer: hyperbolic random graphs (NetworKit → DGL), message-passing dispatch,
random-walk subgraph sampling with held-out node splits, positional encodings and
coarse partitions. NetworKit is imported lazily, inside the functions that use it."""

from roma_bench.graphs.encodings import laplacian_pe, positional_encodings, random_walk_pe
from roma_bench.graphs.hyperbolic import hyperbolic_graph
from roma_bench.graphs.ops import (
    aggregate,
    edge_softmax,
    gather_dst,
    gather_src,
    multi_aggregate,
    weighted_sum,
)
from roma_bench.graphs.partition import community_partition, metis_partition
from roma_bench.graphs.sampler import NodeSplit, RandomWalkSampler, induced_subgraph, node_split
from roma_bench.graphs.stats import graph_statistics, modularity, power_law_exponent

__all__ = [
    "NodeSplit",
    "RandomWalkSampler",
    "aggregate",
    "community_partition",
    "edge_softmax",
    "gather_dst",
    "gather_src",
    "graph_statistics",
    "hyperbolic_graph",
    "induced_subgraph",
    "laplacian_pe",
    "metis_partition",
    "modularity",
    "multi_aggregate",
    "node_split",
    "positional_encodings",
    "power_law_exponent",
    "random_walk_pe",
    "weighted_sum",
]
