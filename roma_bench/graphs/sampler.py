"""Held-out node splits and GraphSAINT-style random-walk subgraph sampling.

A :class:`NodeSplit` holds out two connected regions (validation and test) grown
by breadth-first search from random nodes; :class:`RandomWalkSampler` draws
training subgraphs by random walks that never leave the allowed (training)
nodes, so held-out nodes never appear in a training subgraph.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from roma_bench.graphs import backend
from roma_bench.graphs.backend import NID

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph


@dataclass(frozen=True)
class NodeSplit:
    """Node ids (int64, ascending) of the training, validation and test nodes; disjoint, covering."""

    train: Tensor
    val: Tensor
    test: Tensor


def induced_subgraph(graph: Graph, nodes: Tensor) -> Graph:
    """Subgraph induced by ``nodes`` ``[b]`` (local id ``i`` is ``nodes[i]``), with
    ``ndata[NID]`` (``dgl.NID``) the original ids and every other ``ndata`` field sliced."""
    return backend.node_subgraph(graph, torch.as_tensor(nodes, dtype=torch.int64))


def _csr(graph: Graph):
    import scipy.sparse as sp

    src, dst = (t.numpy() for t in graph.edges())
    n = graph.num_nodes()
    adj = sp.coo_matrix((np.ones(len(src), dtype=np.int8), (src, dst)), shape=(n, n)).tocsr()
    return adj + adj.T  # treat as undirected


def _grow_order(adj, free: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` nodes among ``free`` (bool ``[n]``) in the order they are grown: a BFS ball
    around a random free node; if its component is too small, further balls from new
    random free nodes until ``size`` is reached. Marks the chosen nodes not free.

    The order for ``size = k`` is the first ``k`` nodes of the order for any larger size
    (same ``free`` and ``rng`` state): regions grown this way are nested.
    """
    from scipy.sparse.csgraph import breadth_first_order

    chosen: list[np.ndarray] = []
    need = size
    while need > 0:
        candidates = np.flatnonzero(free)
        start = int(candidates[rng.integers(len(candidates))])
        sub = adj[free][:, free] if not free.all() else adj
        local = np.flatnonzero(free)
        position = int(np.searchsorted(local, start))
        order = breadth_first_order(sub, position, directed=False, return_predecessors=False)
        ball = local[order[:need]]
        free[ball] = False
        chosen.append(ball)
        need -= len(ball)
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def _grow_region(adj, free: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The sorted node ids of :func:`_grow_order` (``size`` nodes, marked not free)."""
    return np.sort(_grow_order(adj, free, size, rng))


def nested_region(graph: Graph, nodes: Tensor, fraction: float, seed: int) -> Tensor:
    """``⌈fraction·|nodes|⌉`` of ``nodes`` forming a connected region (sorted ids ``[k]``).

    The region is grown by BFS inside ``nodes`` from a node drawn with ``seed``
    (:func:`_grow_order`), so for one ``seed`` a smaller fraction's region lies inside a
    larger one's: nested training subsets for data scaling. ``fraction = 1`` returns
    ``nodes`` (sorted).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction!r}: expected 0 < fraction ≤ 1")
    nodes = torch.unique(torch.as_tensor(nodes, dtype=torch.int64))
    if fraction == 1:
        return nodes
    free = np.zeros(graph.num_nodes(), dtype=bool)
    free[nodes.numpy()] = True
    size = max(1, math.ceil(fraction * len(nodes)))
    region = _grow_region(_csr(graph), free, size, np.random.default_rng(seed))
    return torch.from_numpy(np.ascontiguousarray(region, dtype=np.int64))


def node_split(graph: Graph, val_nodes: int, test_nodes: int, seed: int) -> NodeSplit:
    """Split the nodes into a connected validation region, a connected test region
    (grown in the graph without the validation nodes) and the rest for training.

    Each region is the first ``val_nodes`` / ``test_nodes`` nodes of a BFS from a
    random node (seeded); a region only spans several balls when the component
    of its start node is smaller than asked.
    """
    n = graph.num_nodes()
    for name, value in (("val_nodes", val_nodes), ("test_nodes", test_nodes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if val_nodes + test_nodes >= n:
        raise ValueError(
            f"val_nodes + test_nodes must leave training nodes: {val_nodes} + {test_nodes} >= {n} nodes"
        )
    rng = np.random.default_rng(seed)
    adj = _csr(graph)
    free = np.ones(n, dtype=bool)
    val = _grow_region(adj, free, val_nodes, rng) if val_nodes else np.zeros(0, dtype=np.int64)
    test = _grow_region(adj, free, test_nodes, rng) if test_nodes else np.zeros(0, dtype=np.int64)
    train = np.flatnonzero(free)
    as_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))  # noqa: E731
    return NodeSplit(train=as_tensor(train), val=as_tensor(val), test=as_tensor(test))


class RandomWalkSampler:
    """GraphSAINT-style random-walk subgraph sampler restricted to ``allowed`` nodes.

    Once, at construction, the graph induced by ``allowed`` is cut out
    (:func:`roma_bench.graphs.backend.node_subgraph`) and its CSR kept. Each
    :meth:`sample` starts ``r`` walks of ``walk_length`` steps from uniformly random allowed nodes
    (a step moves to a uniformly random neighbour, ``x_{t+1} ~ U(N(x_t))``; a node
    without allowed neighbours stays put), collects the visited nodes in order of
    first visit, adds walks until ``batch_nodes`` distinct nodes are reached, keeps
    the first ``batch_nodes`` and returns their induced subgraph. The work per
    sample is ``O(r · walk_length)`` plus the subgraph's edges, independent of the
    graph size. ``r`` follows the distinct nodes per walk measured on a pilot at construction.

    Args:
        graph: the whole graph (bidirected).
        batch_nodes: nodes per subgraph (fewer only if fewer nodes are allowed).
        walk_length: steps per walk.
        allowed: node ids ``[a]`` the walks may visit (``None``: all).
        seed: seed of the default generator used when :meth:`sample` gets none.

    Example:
        >>> g = backend.make_graph(torch.tensor([0, 1, 1, 2]), torch.tensor([1, 0, 2, 1]), 3)
        >>> sub = RandomWalkSampler(g, batch_nodes=2, allowed=torch.tensor([0, 1])).sample()
        >>> sorted(sub.ndata[NID].tolist())
        [0, 1]
    """

    def __init__(
        self,
        graph: Graph,
        batch_nodes: int,
        walk_length: int = 16,
        allowed: Tensor | None = None,
        seed: int = 0,
    ) -> None:
        if isinstance(batch_nodes, bool) or not isinstance(batch_nodes, int) or batch_nodes <= 0:
            raise ValueError(f"batch_nodes must be a positive integer, got {batch_nodes!r}")
        if isinstance(walk_length, bool) or not isinstance(walk_length, int) or walk_length < 0:
            raise ValueError(f"walk_length must be a non-negative integer, got {walk_length!r}")
        self.batch_nodes = batch_nodes
        self.walk_length = walk_length
        if allowed is None:
            allowed = torch.arange(graph.num_nodes(), dtype=torch.int64)
        allowed = torch.unique(torch.as_tensor(allowed, dtype=torch.int64))
        if len(allowed) and (allowed[0] < 0 or allowed[-1] >= graph.num_nodes()):
            raise ValueError(f"allowed: node ids must be in [0, {graph.num_nodes()})")
        if len(allowed) == 0:
            raise ValueError("allowed: no nodes to sample from")
        self.graph = backend.node_subgraph(graph, allowed)  # ndata[NID] = original ids
        self.original_ids = self.graph.ndata[NID]
        self._indptr, self._indices = backend.csr(self.graph)
        self._walk_tables = _walk_tables(self._indptr, self._indices)
        self._generator = torch.Generator().manual_seed(seed)
        # distinct nodes per walk, measured once on a pilot of walks (fixed afterwards so a
        # sample depends on its generator only)
        self._nodes_per_walk = 1.0
        pilot_roots = torch.randint(
            self.graph.num_nodes(), (64,), generator=torch.Generator().manual_seed(seed)
        )
        pilot = self._walks(pilot_roots, torch.Generator().manual_seed(seed + 1))
        distinct = sum(len(torch.unique(walk)) for walk in pilot)
        self._nodes_per_walk = max(distinct / len(pilot_roots), 1.0)

    def _walks(self, roots: Tensor, generator: torch.Generator) -> Tensor:
        """``[r, walk_length + 1]`` local node ids of walks from ``roots``.

        Step ``t`` of walk ``i`` moves from ``x`` to ``indices[indptr[x] + ⌊u_ti · deg(x)⌋]``
        (``u_ti`` float32 uniform, clamped to the last neighbour); the ``u`` are drawn as one
        ``[walk_length, r]`` block, the same numbers, in the same order, as ``walk_length``
        draws of ``r``. The arithmetic runs in NumPy on :func:`_walk_tables`: ``r`` is a few
        dozen walks, where a torch op's dispatch costs more than its work.
        """
        count = len(roots)
        uniform = torch.rand((self.walk_length, count), generator=generator).numpy()
        trace = np.empty((self.walk_length + 1, count), dtype=np.int64)
        trace[0] = current = roots.numpy()
        start, span, last, targets = self._walk_tables
        for t in range(self.walk_length):
            offset = (uniform[t] * span[current]).astype(np.int64)
            np.minimum(offset, last[current], out=offset)
            current = targets[start[current] + offset]
            trace[t + 1] = current
        return torch.from_numpy(trace.T.copy())

    def sample_nodes(self, generator: torch.Generator | None = None) -> Tensor:
        """Local ids (into the allowed-only graph) of one sample, in order of first visit."""
        generator = self._generator if generator is None else generator
        n = self.graph.num_nodes()
        target = min(self.batch_nodes, n)
        visited = torch.zeros(0, dtype=torch.int64)
        for _ in range(64):
            missing = target - len(visited)
            if missing <= 0:
                break
            roots_count = max(1, math.ceil(1.1 * missing / self._nodes_per_walk))
            roots = torch.randint(n, (roots_count,), generator=generator)
            trace = self._walks(roots, generator).reshape(-1)
            visited = _first_visit_unique(torch.cat([visited, trace]))
        return visited[:target]

    def sample(self, generator: torch.Generator | None = None) -> Graph:
        """One training subgraph of about ``batch_nodes`` nodes; ``ndata[NID]`` = original ids."""
        local = self.sample_nodes(generator)
        sub = backend.node_subgraph(self.graph, local)
        sub.ndata[NID] = self.original_ids[local]
        return sub


def stepwise_walks(
    indptr: Tensor, indices: Tensor, roots: Tensor, walk_length: int, generator: torch.Generator
) -> Tensor:
    """The walk rule of :class:`RandomWalkSampler`, one torch op per step: the reference its
    NumPy walks equal draw for draw (tests) and are timed against (``benchmarks/loader.py``).

    Step ``t`` draws ``u ~ U[0, 1)`` (float32, one per walk) and moves each walk from ``x`` to
    ``indices[indptr[x] + min(⌊u · deg(x)⌋, deg(x) − 1)]``; a node without neighbours stays.
    Returns ``[r, walk_length + 1]`` node ids.
    """
    degree = indptr[1:] - indptr[:-1]
    trace, current = [roots], roots
    for _ in range(walk_length):
        deg = degree[current]
        offset = torch.minimum(
            (torch.rand(len(current), generator=generator) * deg).to(torch.int64),
            (deg - 1).clamp_min(0),
        )
        if len(indices):
            step = indices[(indptr[current] + offset).clamp_max(len(indices) - 1)]
            current = torch.where(deg > 0, step, current)
        trace.append(current)
    return torch.stack(trace, dim=1)


def _walk_tables(
    indptr: Tensor, indices: Tensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The walk rule of :func:`stepwise_walks` as four NumPy lookups per step.

    Returns ``(start, span, last, targets)`` ``[N]``, ``[N]``, ``[N]``, ``[E + N₀]``: a node
    without neighbours (``N₀`` of them) gets one appended neighbour, itself, so "a node
    without neighbours stays" needs no branch; ``span = max(deg, 1)`` (float32, the factor of
    ``u``), ``last = span − 1``. A step is
    ``x ← targets[start[x] + min(⌊u · span[x]⌋, last[x])]``: for ``deg(x) > 0`` the same
    float32 product and index as the rule, for ``deg(x) = 0`` ``x`` itself.

    Memory: ``span`` and ``last``, 12 N bytes; ``start`` and ``targets`` are views of the CSR
    (int64) when no node is isolated, else copies (+8 N + 8 E bytes).
    """
    indptr_np, indices_np = indptr.numpy(), indices.numpy()
    degree = np.diff(indptr_np)
    isolated = np.flatnonzero(degree == 0)
    start = indptr_np[:-1].astype(np.int64, copy=len(isolated) > 0)
    targets = indices_np.astype(np.int64, copy=False)
    if len(isolated):
        start[isolated] = len(indices_np) + np.arange(len(isolated))
        targets = np.concatenate([targets, isolated])
    span = np.maximum(degree, 1)
    return start, span.astype(np.float32), (span - 1).astype(np.int64), targets


def _first_visit_unique(sequence: Tensor) -> Tensor:
    """Distinct values of ``sequence`` ``[m]`` in order of first occurrence."""
    _, first = np.unique(sequence.numpy(), return_index=True)
    return sequence[torch.from_numpy(np.sort(first))]
