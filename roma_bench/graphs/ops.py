"""Message-passing dispatch: DGL kernels where DGL supports the device, torch scatter otherwise.

DGL from the package index is CPU-only, so a graph's *structure* always lives on
the CPU. When node/edge features live on a device DGL cannot use (e.g. CUDA with
the CPU build), the same operations run as torch ``index_add_`` /
``scatter_reduce`` kernels on cached edge indices moved to that device. Both
paths give the same numbers (``tests/graphs/test_ops.py``).

Where DGL cannot be imported (a current CUDA torch, see the README), and for an
:class:`~roma_bench.graphs.edge_graph.EdgeGraph` (torch edge indices), every op runs on the
torch kernels.

Conventions: messages live on edges ``e = (j → i)``, ``[E, *]``; aggregation is
into the destination ``i``; nodes without in-edges aggregate to 0.

- ``sum``: ``h_i = Σ_{j→i} m_e``          - ``mean``: ``h_i = (1/d_i) Σ_{j→i} m_e``
- ``max``: ``h_i = max_{j→i} m_e``         - ``var``: ``h_i = mean(m_e²) − mean(m_e)²``
- ``edge_softmax``: ``a_e = exp(s_e) / Σ_{e'→i} exp(s_e')``
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from roma_bench.graphs.backend import dgl  # None where DGL cannot be imported: torch kernels

Backend = Literal["auto", "dgl", "torch"]
Reduce = Literal["sum", "mean", "max", "var"]
REDUCES: tuple[Reduce, ...] = ("sum", "mean", "max", "var")

_CACHE_ATTR = "_roma_bench_edge_cache"


_DGL_CUDA: bool | None = None


def dgl_supports(device: torch.device | str) -> bool:
    """Whether the installed DGL can run kernels on ``device`` (probed once for CUDA)."""
    global _DGL_CUDA
    device = torch.device(device)
    if dgl is None:
        return False
    if device.type == "cpu":
        return True
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    if _DGL_CUDA is None:
        try:
            dgl.graph(([0], [0])).to("cuda")
            _DGL_CUDA = True
        except Exception:  # the CPU-only build raises on .to("cuda")
            _DGL_CUDA = False
    return _DGL_CUDA


def use_dgl_kernels(graph: Any, device: torch.device, backend: Backend) -> bool:
    """Whether a graph operation runs DGL's kernels: ``torch`` never; ``dgl`` always (an
    error when ``graph`` is no DGLGraph or DGL cannot run on ``device``); ``auto`` when
    ``graph`` is a DGLGraph and DGL runs on ``device``."""
    is_dgl_graph = dgl is not None and isinstance(graph, dgl.DGLGraph)
    if backend == "torch" or (backend == "auto" and not is_dgl_graph):
        return False
    if not is_dgl_graph:
        raise RuntimeError(f"backend='dgl' needs a DGLGraph, got {type(graph).__name__}")
    if backend == "dgl":
        if not dgl_supports(device):
            raise RuntimeError(
                f"the installed DGL cannot run kernels on {device}; use backend='torch'"
            )
        return True
    return dgl_supports(device)


def _graph_on(graph: dgl.DGLGraph, device: torch.device) -> dgl.DGLGraph:
    return graph if graph.device == device else graph.to(device)


def edge_index(graph: dgl.DGLGraph, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """``(src, dst)`` int64 ``[E]`` of ``graph`` on ``device`` (cached on the graph object)."""
    device = torch.device(device)
    cache = graph.__dict__.setdefault(_CACHE_ATTR, {})
    key = str(device)
    if key not in cache:
        src, dst = graph.edges()
        cache[key] = (
            src.to(device=device, dtype=torch.int64),
            dst.to(device=device, dtype=torch.int64),
        )
    return cache[key]


def in_degrees(graph: dgl.DGLGraph, device: torch.device | str = "cpu") -> Tensor:
    """``[N]`` int64 in-degree of every node, on ``device``."""
    device = torch.device(device)
    cache = graph.__dict__.setdefault(_CACHE_ATTR, {})
    key = f"deg:{device}"
    if key not in cache:
        cache[key] = graph.in_degrees().to(device=device, dtype=torch.int64)
    return cache[key]


def gather_src(graph: dgl.DGLGraph, x: Tensor) -> Tensor:
    """``[N, *] → [E, *]``: the source node's features on every edge, ``x_j`` for ``j → i``."""
    return x.index_select(0, edge_index(graph, x.device)[0])


def gather_dst(graph: dgl.DGLGraph, x: Tensor) -> Tensor:
    """``[N, *] → [E, *]``: the destination node's features on every edge, ``x_i`` for ``j → i``."""
    return x.index_select(0, edge_index(graph, x.device)[1])


def _torch_sum(messages: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    out = messages.new_zeros((num_nodes, *messages.shape[1:]))
    return out.index_add_(0, dst, messages)


def _expand(index: Tensor, like: Tensor) -> Tensor:
    return index.view(-1, *([1] * (like.dim() - 1))).expand_as(like)


def aggregate(
    graph: dgl.DGLGraph, messages: Tensor, reduce: Reduce = "sum", backend: Backend = "auto"
) -> Tensor:
    """Aggregate edge messages ``[E, *]`` into destination nodes ``[N, *]`` with ``reduce``."""
    if reduce not in REDUCES:
        raise ValueError(f"unknown reduce {reduce!r}; expected one of {REDUCES}")
    n = graph.num_nodes()
    if messages.shape[0] != graph.num_edges():
        raise ValueError(
            f"messages: expected {graph.num_edges()} rows (edges), got {messages.shape[0]}"
        )
    if reduce == "var":
        mean = aggregate(graph, messages, "mean", backend)
        mean_sq = aggregate(graph, messages * messages, "mean", backend)
        return (mean_sq - mean * mean).clamp_min(0.0)
    # without edges the torch path still returns zeros attached to the autograd graph
    if graph.num_edges() > 0 and use_dgl_kernels(graph, messages.device, backend):
        g = _graph_on(graph, messages.device)
        fn = {"sum": dgl.ops.copy_e_sum, "mean": dgl.ops.copy_e_mean, "max": dgl.ops.copy_e_max}[
            reduce
        ]
        out = fn(g, messages)
        if reduce == "max":  # DGL leaves -inf on nodes without in-edges; the convention is 0
            has_in = in_degrees(graph, messages.device) > 0
            out = torch.where(has_in.view(-1, *([1] * (messages.dim() - 1))), out, 0.0)
        return out
    _, dst = edge_index(graph, messages.device)
    if reduce == "sum":
        return _torch_sum(messages, dst, n)
    if reduce == "mean":
        deg = in_degrees(graph, messages.device).clamp_min(1).to(messages.dtype)
        return _torch_sum(messages, dst, n) / deg.view(-1, *([1] * (messages.dim() - 1)))
    out = messages.new_zeros((n, *messages.shape[1:]))
    return out.scatter_reduce(
        0, _expand(dst, messages), messages, reduce="amax", include_self=False
    )


def multi_aggregate(
    graph: dgl.DGLGraph,
    messages: Tensor,
    reduces: tuple[Reduce, ...] = REDUCES,
    backend: Backend = "auto",
) -> Tensor:
    """Several aggregations at once, concatenated on the last axis: ``[E, d] → [N, len(reduces)·d]``."""
    return torch.cat([aggregate(graph, messages, r, backend) for r in reduces], dim=-1)


def weighted_sum(
    graph: dgl.DGLGraph, x: Tensor, weight: Tensor | None = None, backend: Backend = "auto"
) -> Tensor:
    """``h_i = Σ_{j→i} w_e x_j`` for node features ``x`` ``[N, *]`` and edge weights ``w`` ``[E]``."""
    if graph.num_edges() > 0 and use_dgl_kernels(graph, x.device, backend):
        g = _graph_on(graph, x.device)
        if weight is None:
            return dgl.ops.copy_u_sum(g, x)
        w = weight.view(-1, *([1] * (x.dim() - 1)))
        return dgl.ops.u_mul_e_sum(g, x, w)
    messages = gather_src(graph, x)
    if weight is not None:
        messages = messages * weight.view(-1, *([1] * (x.dim() - 1)))
    return _torch_sum(messages, edge_index(graph, x.device)[1], graph.num_nodes())


def edge_softmax(graph: dgl.DGLGraph, scores: Tensor, backend: Backend = "auto") -> Tensor:
    """Softmax of edge scores ``[E, *]`` over the in-edges of each destination node."""
    if graph.num_edges() == 0:
        return scores
    if use_dgl_kernels(graph, scores.device, backend):
        return dgl.ops.edge_softmax(_graph_on(graph, scores.device), scores)
    _, dst = edge_index(graph, scores.device)
    n = graph.num_nodes()
    index = _expand(dst, scores)
    peak = scores.new_full((n, *scores.shape[1:]), float("-inf"))
    peak = peak.scatter_reduce(0, index, scores.detach(), reduce="amax", include_self=True)
    exp = torch.exp(scores - peak.index_select(0, dst))
    denom = _torch_sum(exp, dst, n)
    return exp / denom.index_select(0, dst)
