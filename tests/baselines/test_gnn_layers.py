"""The DGL layers of gcn/gat and their torch fallbacks (used where DGL has no kernels) agree."""

from __future__ import annotations

import dgl
import pytest
import torch
from baseline_kit import behind_harness, make_batch, make_spec

from baselines.gnn import GATLayer, GraphConvLayer, with_self_loops
from roma_bench.registry import build_model


def _graph_with_isolated_node() -> dgl.DGLGraph:
    src = torch.tensor([0, 1, 1, 2, 3])
    dst = torch.tensor([1, 0, 2, 1, 0])
    return dgl.graph((src, dst), num_nodes=5)  # node 4 has no edges, node 3 no in-edges


@pytest.mark.parametrize("self_loops", [False, True])
def test_graph_conv_torch_fallback_matches_dgl(self_loops: bool) -> None:
    torch.manual_seed(0)
    graph = _graph_with_isolated_node()
    graph = with_self_loops(graph) if self_loops else graph
    layer = GraphConvLayer(6, 3)
    torch.nn.init.normal_(layer.conv.bias)
    x = torch.randn(5, 6)
    torch.testing.assert_close(layer(graph, x, backend="torch"), layer(graph, x, backend="dgl"))


def test_graph_conv_normalization_by_hand() -> None:
    """``h_i = Σ_{j→i} x_j W / √(d_out(j) d_in(i)) + b`` on a 3-node path with self-loops."""
    graph = with_self_loops(dgl.graph((torch.tensor([0, 1, 1, 2]), torch.tensor([1, 0, 2, 1]))))
    layer = GraphConvLayer(1, 1)
    with torch.no_grad():
        layer.conv.weight.fill_(1.0)
        layer.conv.bias.fill_(0.5)
    x = torch.tensor([[1.0], [2.0], [4.0]])
    deg = torch.tensor([2.0, 3.0, 2.0])  # in = out degrees with the self-loops
    expected = (
        torch.stack(
            [
                x[0] / deg[0] + x[1] / (deg[1] * deg[0]).sqrt(),
                x[1] / deg[1] + x[0] / (deg[0] * deg[1]).sqrt() + x[2] / (deg[2] * deg[1]).sqrt(),
                x[2] / deg[2] + x[1] / (deg[1] * deg[2]).sqrt(),
            ]
        )
        + 0.5
    )
    for backend in ("dgl", "torch"):
        torch.testing.assert_close(layer(graph, x, backend=backend), expected)


def test_gat_torch_fallback_matches_dgl() -> None:
    torch.manual_seed(0)
    graph = with_self_loops(_graph_with_isolated_node())
    layer = GATLayer(6, 4, heads=2)
    torch.nn.init.normal_(layer.conv.bias)
    x = torch.randn(5, 6)
    out = layer(graph, x, backend="torch")
    assert out.shape == (5, 8)
    torch.testing.assert_close(out, layer(graph, x, backend="dgl"))


@pytest.mark.parametrize("name", ["gcn", "gat", "mpnn"])
def test_gnn_models_same_numbers_on_both_backends(name: str, monkeypatch) -> None:
    """Forcing the torch path (what CUDA without DGL's CUDA wheels runs) changes nothing."""
    torch.manual_seed(0)
    model = build_model(name, make_spec())
    batch = make_batch(40, seed=3)
    harness = behind_harness(model)
    reference = harness(batch).prediction
    from roma_bench.graphs import ops

    monkeypatch.setattr(ops, "dgl_supports", lambda device: False)
    torch.testing.assert_close(harness(batch).prediction, reference, rtol=1e-5, atol=1e-5)
