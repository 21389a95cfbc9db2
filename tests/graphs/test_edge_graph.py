"""Message passing on :class:`EdgeGraph` (torch edge indices) equals DGL's, also without DGL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dgl
import pytest
import torch

from roma_bench.graphs import ops
from roma_bench.graphs.edge_graph import EdgeGraph

EDGES = torch.tensor([[0, 1, 1, 2, 3, 0, 2], [1, 0, 2, 1, 1, 3, 0]])  # node 4 has no in-edges


def pair() -> tuple[dgl.DGLGraph, EdgeGraph]:
    return dgl.graph((EDGES[0], EDGES[1]), num_nodes=5), EdgeGraph.from_edge_index(EDGES, 5)


@pytest.mark.parametrize("reduce", ops.REDUCES)
def test_aggregate_on_edge_graph_equals_dgl(reduce):
    reference, graph = pair()
    messages = torch.randn(EDGES.shape[1], 3, generator=torch.Generator().manual_seed(1))
    want = ops.aggregate(reference, messages, reduce, backend="dgl")
    assert torch.allclose(ops.aggregate(graph, messages, reduce), want, atol=1e-6)


def test_softmax_weighted_sum_and_degrees_on_edge_graph_equal_dgl():
    reference, graph = pair()
    generator = torch.Generator().manual_seed(2)
    scores, x = torch.randn(7, 2, generator=generator), torch.randn(5, 4, generator=generator)
    weight = torch.rand(7, generator=generator)
    assert torch.allclose(ops.edge_softmax(graph, scores),
                          ops.edge_softmax(reference, scores, backend="dgl"), atol=1e-6)  # fmt: skip
    assert torch.allclose(ops.weighted_sum(graph, x, weight),
                          ops.weighted_sum(reference, x, weight, backend="dgl"), atol=1e-6)  # fmt: skip
    assert graph.in_degrees().tolist() == reference.in_degrees().tolist() == [2, 3, 1, 1, 0]


def test_edge_graph_refuses_the_dgl_backend_and_bad_indices():
    _, graph = pair()
    with pytest.raises(RuntimeError, match="backend='dgl' needs a DGLGraph, got EdgeGraph"):
        ops.aggregate(graph, torch.zeros(7, 1), "sum", backend="dgl")
    with pytest.raises(ValueError, match=r"edge_index: expected \[2, E\], got \(7,\)"):
        EdgeGraph.from_edge_index(EDGES[0], 5)
    with pytest.raises(ValueError, match="expected node ids < num_nodes=3"):
        EdgeGraph.from_edge_index(EDGES, 3)


def test_ops_import_and_run_with_dgl_absent():
    """``import dgl`` fails (as on a current CUDA torch): ops load and use the torch kernels."""
    program = (
        "import sys; sys.modules['dgl'] = None\n"  # makes `import dgl` raise ImportError
        "import torch\n"
        "from roma_bench.graphs import ops, EdgeGraph\n"
        "assert ops.dgl is None and not ops.dgl_supports('cpu')\n"
        "g = EdgeGraph.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 1]]), 3)\n"
        "print(ops.aggregate(g, torch.tensor([[1.0], [2.0], [4.0]]), 'mean').flatten().tolist())\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env=env, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[0.0, 2.5, 2.0]"  # node 1: (1+4)/2, node 2: 2
