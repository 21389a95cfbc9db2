"""The one place that imports DGL: graphs built with DGL when it loads, torch edge indices otherwise.

DGL 2.1.0 (the newest Linux build on the package index) loads only with torch <= 2.2.1;
a current torch (a GPU machine) has no DGL. Every module of the package builds, cuts
and reads graphs through the helpers below, so the models, the baselines without a
DGL-specific layer, the training step and the evaluator run either way:

- with DGL (``HAVE_DGL``): ``dgl.DGLGraph`` and DGL's own functions, exactly as before;
- without it: :class:`~roma_bench.graphs.edge_graph.EdgeGraph` (``src``/``dst`` int64
  tensors, an ``ndata`` dict) and torch, with the same edge order as DGL's functions.

What truly needs DGL (METIS partitioning) calls :func:`require_dgl`, which names what
needs it and how to install it.

    >>> g = make_graph(torch.tensor([0, 1, 1]), torch.tensor([1, 0, 2]), num_nodes=3)
    >>> node_subgraph(g, torch.tensor([1, 2])).ndata[NID].tolist()
    [1, 2]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from roma_bench.graphs.edge_graph import EdgeGraph

try:
    import dgl
except ImportError as error:  # DGL absent or unloadable (its wheels stop at torch 2.2.1)
    dgl = None
    _IMPORT_ERROR: str = f"{type(error).__name__}: {error}"
else:
    _IMPORT_ERROR = ""

if TYPE_CHECKING:
    from typing import TypeAlias

    import dgl as _dgl

    Graph: TypeAlias = _dgl.DGLGraph | EdgeGraph

__all__ = [
    "HAVE_DGL",
    "NID",
    "DGLMissingError",
    "add_self_loops",
    "csr",
    "dgl",
    "dgl_nn",
    "is_dgl_graph",
    "make_graph",
    "node_subgraph",
    "require_dgl",
    "seed",
]

HAVE_DGL: bool = dgl is not None

#: ``ndata`` key of a subgraph's original node ids (``dgl.NID``).
NID: str = dgl.NID if dgl is not None else "_ID"

INSTALL_HINT = (
    "DGL 2.1.0 needs torch <= 2.2.1: install the pinned stack (`pip install -e .` in a "
    "Python 3.11 environment, or `tox -e py311`), or a DGL build matching your torch "
    "from https://www.dgl.ai/pages/start.html"
)


class DGLMissingError(ImportError):
    """Something that needs DGL was asked for where DGL cannot be imported."""


def require_dgl(what: str) -> Any:
    """The ``dgl`` module, or :class:`DGLMissingError` saying that ``what`` needs DGL."""
    if dgl is None:
        reason = f" ({_IMPORT_ERROR})" if _IMPORT_ERROR else ""
        raise DGLMissingError(
            f"{what} needs DGL, which cannot be imported here{reason}. {INSTALL_HINT}"
        )
    return dgl


def dgl_nn() -> Any:
    """``dgl.nn`` (DGL's PyTorch layers), or :class:`DGLMissingError`."""
    require_dgl("dgl.nn layers")
    import dgl.nn

    return dgl.nn


def is_dgl_graph(graph: Any) -> bool:
    return dgl is not None and isinstance(graph, dgl.DGLGraph)


def make_graph(src: Tensor, dst: Tensor, num_nodes: int) -> Graph:
    """The directed graph ``src[e] → dst[e]`` on ``num_nodes`` nodes (edge order kept; an
    :class:`EdgeGraph` holds int64 ids)."""
    if dgl is not None:
        return dgl.graph((src, dst), num_nodes=num_nodes)
    return EdgeGraph(torch.as_tensor(src), torch.as_tensor(dst), num_nodes)


def node_subgraph(graph: Graph, nodes: Tensor) -> Graph:
    """Subgraph induced by ``nodes`` ``[b]`` (local id ``i`` is ``nodes[i]``), ``ndata[NID]`` the
    original ids and every other ``ndata`` field sliced.

    Edge order as ``dgl.node_subgraph``: by the position of the source in ``nodes``, then by
    edge id.
    """
    nodes = torch.as_tensor(nodes, dtype=torch.int64)
    if is_dgl_graph(graph):
        return dgl.node_subgraph(graph, nodes)
    src, dst = graph.edges()
    position = torch.full((graph.num_nodes(),), -1, dtype=torch.int64)
    position[nodes] = torch.arange(len(nodes))
    local_src, local_dst = position[src], position[dst]
    kept = torch.nonzero((local_src >= 0) & (local_dst >= 0)).flatten()
    kept = kept[torch.argsort(local_src[kept], stable=True)]
    sub = EdgeGraph(local_src[kept], local_dst[kept], len(nodes))
    sub.ndata.update({key: value[nodes] for key, value in graph.ndata.items()})
    sub.ndata[NID] = nodes
    return sub


def csr(graph: Graph) -> tuple[Tensor, Tensor]:
    """``(indptr [n+1], indices [E])`` int64 of the out-neighbours (as ``adj_tensors('csr')``:
    rows by source, each row in edge-id order)."""
    if is_dgl_graph(graph):
        indptr, indices, _ = graph.adj_tensors("csr")
        return indptr.to(torch.int64), indices.to(torch.int64)
    src, dst = graph.edges()
    order = torch.argsort(src, stable=True)
    counts = torch.bincount(src, minlength=graph.num_nodes())
    indptr = torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(counts, 0)])
    return indptr, dst[order]


def add_self_loops(graph: Graph) -> Graph:
    """``graph`` with its self loops removed and then one added per node (appended, in node
    order), as ``dgl.add_self_loop(dgl.remove_self_loop(graph))``; ``ndata`` kept."""
    if is_dgl_graph(graph):
        return dgl.add_self_loop(dgl.remove_self_loop(graph))
    src, dst = graph.edges()
    keep = src != dst
    loops = torch.arange(graph.num_nodes(), dtype=torch.int64, device=src.device)
    out = EdgeGraph(torch.cat([src[keep], loops]), torch.cat([dst[keep], loops]), graph.num_nodes())
    out.ndata.update(graph.ndata)
    return out


def seed(value: int) -> None:
    """Seed DGL's random number generator where DGL loads (nothing to seed otherwise)."""
    if dgl is not None:
        dgl.seed(value)
