"""Graphs for tests, built with DGL where it loads and as ``EdgeGraph`` where it cannot.

Both give the same edges in the same order (``dgl.to_simple`` / ``dgl.to_bidirected`` sort
the unique edges by ``(src, dst)``), so a test's numbers do not depend on which one ran.
``requires_dgl`` marks a test that compares against DGL itself (it skips, saying why,
in the DGL-free environment, ``tox -e nodgl``).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from roma_bench.graphs import backend
from roma_bench.graphs.backend import HAVE_DGL, make_graph

requires_dgl = pytest.mark.skipif(
    not HAVE_DGL, reason="compares with DGL, which cannot be imported here (tox -e nodgl)"
)


def _sorted_unique(src: Tensor, dst: Tensor, n: int):
    key = torch.unique(src.to(torch.int64) * n + dst.to(torch.int64))
    return make_graph(key // n, key % n, num_nodes=n)


def simple_graph(src: Tensor, dst: Tensor, n: int):
    """``dgl.to_simple(dgl.graph((src, dst)))``: duplicate edges dropped, sorted by (src, dst)."""
    if HAVE_DGL:
        return backend.dgl.to_simple(backend.dgl.graph((src, dst), num_nodes=n))
    return _sorted_unique(src, dst, n)


def bidirected_graph(src: Tensor, dst: Tensor, n: int):
    """``dgl.to_bidirected``: both directions of every edge, unique, sorted by (src, dst)."""
    if HAVE_DGL:
        return backend.dgl.to_bidirected(backend.dgl.graph((src, dst), num_nodes=n))
    return _sorted_unique(torch.cat([src, dst]), torch.cat([dst, src]), n)
