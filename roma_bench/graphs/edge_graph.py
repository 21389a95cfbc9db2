"""A graph as plain torch edge indices, for message passing where DGL cannot be imported.

:class:`EdgeGraph` offers the part of ``dgl.DGLGraph``'s interface that
:mod:`roma_bench.graphs.ops` uses (``edges()``, ``num_nodes()``, ``num_edges()``,
``in_degrees()``, ``device``, ``to()``, ``ndata``), so every op runs on it with the torch
kernels, and :mod:`roma_bench.graphs.backend` builds one wherever DGL cannot be imported.
Edges ``e = (src[e] → dst[e])`` keep their order, so edge features line up with a DGL graph
built from the same ``edge_index``.

    >>> g = EdgeGraph.from_edge_index(torch.tensor([[0, 1, 1], [1, 0, 2]]), num_nodes=3)
    >>> g.in_degrees().tolist()
    [1, 1, 1]
"""

from __future__ import annotations

import torch
from torch import Tensor


class EdgeGraph:
    """``num_nodes`` nodes and the directed edges ``src[e] → dst[e]`` (int64 ``[E]`` each)."""

    def __init__(
        self, src: Tensor, dst: Tensor, num_nodes: int, ndata: dict[str, Tensor] | None = None
    ) -> None:
        if src.shape != dst.shape or src.dim() != 1:
            raise ValueError(
                f"src, dst: expected two [E] index vectors, got {tuple(src.shape)} and "
                f"{tuple(dst.shape)}"
            )
        if src.numel() and int(torch.maximum(src.max(), dst.max())) >= num_nodes:
            raise ValueError(f"edge endpoints: expected node ids < num_nodes={num_nodes}")
        self.src, self.dst = src.to(torch.int64), dst.to(torch.int64)
        self._num_nodes = int(num_nodes)
        #: node data ``[num_nodes, *]`` by name, as ``DGLGraph.ndata``
        self.ndata: dict[str, Tensor] = dict(ndata or {})

    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: int) -> EdgeGraph:
        """From ``edge_index`` ``[2, E]`` (row 0 sources, row 1 destinations), e.g. ``Batch.edge_index``."""
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            raise ValueError(f"edge_index: expected [2, E], got {tuple(edge_index.shape)}")
        return cls(edge_index[0], edge_index[1], num_nodes)

    @property
    def device(self) -> torch.device:
        return self.src.device

    def to(self, device: torch.device | str) -> EdgeGraph:
        ndata = {key: value.to(device) for key, value in self.ndata.items()}
        return EdgeGraph(self.src.to(device), self.dst.to(device), self._num_nodes, ndata)

    def num_nodes(self) -> int:
        return self._num_nodes

    def num_edges(self) -> int:
        return int(self.src.numel())

    def edges(self) -> tuple[Tensor, Tensor]:
        return self.src, self.dst

    def in_degrees(self) -> Tensor:
        return torch.bincount(self.dst, minlength=self._num_nodes)

    def __repr__(self) -> str:
        return f"EdgeGraph(num_nodes={self._num_nodes}, num_edges={self.num_edges()})"
