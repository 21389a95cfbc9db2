"""The DGL layers of gcn/gat, their torch fallbacks (used where DGL has no kernels) and their
torch twins (used where DGL cannot be imported) agree."""

from __future__ import annotations

import pytest
import torch
from baseline_kit import behind_harness, make_batch, make_spec
from graph_doubles import requires_dgl

from baselines.gnn import GATLayer, GraphConvLayer, TorchGATConv, TorchGraphConv, with_self_loops
from roma_bench.graphs import backend as graph_backend
from roma_bench.graphs.backend import make_graph
from roma_bench.graphs.edge_graph import EdgeGraph
from roma_bench.registry import build_model

BACKENDS = ("dgl", "torch") if graph_backend.HAVE_DGL else ("torch",)


def _graph_with_isolated_node():
    src = torch.tensor([0, 1, 1, 2, 3])
    dst = torch.tensor([1, 0, 2, 1, 0])
    return make_graph(src, dst, num_nodes=5)  # node 4 has no edges, node 3 no in-edges


@requires_dgl
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
    graph = with_self_loops(make_graph(torch.tensor([0, 1, 1, 2]), torch.tensor([1, 0, 2, 1]), 3))
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
    for backend in BACKENDS:
        torch.testing.assert_close(layer(graph, x, backend=backend), expected)


@requires_dgl
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


@requires_dgl
@pytest.mark.parametrize("kind", ["gcn", "gat"])
@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (5, 5)])
def test_torch_twins_equal_the_dgl_layers(kind: str, shape: tuple[int, int]) -> None:
    """Same seed → same parameters (names, shapes, values); same input → forward within 1e-5,
    on a DGLGraph and on an EdgeGraph of the same edges; a state dict loads across."""
    dgl_nn = graph_backend.dgl_nn()
    d_in, d_out = shape
    heads = 2
    torch.manual_seed(5)
    if kind == "gcn":
        reference = dgl_nn.GraphConv(d_in, d_out, norm="both", allow_zero_in_degree=True)
    else:
        reference = dgl_nn.GATConv(d_in, d_out, heads, allow_zero_in_degree=True)
    torch.manual_seed(5)
    twin = TorchGraphConv(d_in, d_out) if kind == "gcn" else TorchGATConv(d_in, d_out, heads)
    want, got = reference.state_dict(), twin.state_dict()
    assert list(got) == list(want)
    for name in want:
        assert torch.equal(got[name], want[name]), name
    with torch.no_grad():  # a non-zero bias and different attention vectors, so they count
        for parameter in reference.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    twin.load_state_dict(reference.state_dict())
    graph = with_self_loops(_graph_with_isolated_node())
    src, dst = graph.edges()
    edge_graph = EdgeGraph(src, dst, graph.num_nodes())
    x = torch.randn(5, d_in, generator=torch.Generator().manual_seed(6))
    expected = reference(graph, x)
    for g in (graph, edge_graph):
        torch.testing.assert_close(twin(g, x), expected, rtol=1e-5, atol=1e-5)
    reference.load_state_dict(twin.state_dict())


@requires_dgl
@pytest.mark.parametrize("name", ["gcn", "gat"])
def test_gnn_models_on_edge_graphs_with_twin_layers_equal_dgl(name: str, monkeypatch) -> None:
    """The whole gcn/gat as built without DGL (torch twins, EdgeGraph batches) computes what
    the DGL-built model computes, from the same checkpoint."""
    from dataclasses import replace

    import baselines.gnn as gnn

    torch.manual_seed(0)
    spec = make_spec()
    with_dgl = build_model(name, spec)
    monkeypatch.setattr(gnn, "_dgl_layers", lambda: None)
    torch.manual_seed(0)
    without = build_model(name, spec)
    assert {type(layer.conv) for layer in without.layers} <= {TorchGraphConv, TorchGATConv}
    without.load_state_dict(with_dgl.state_dict())
    batch = make_batch(40, seed=3)
    src, dst = batch.graph.edges()
    edge_batch = replace(batch, graph=EdgeGraph(src, dst, batch.graph.num_nodes()))
    torch.testing.assert_close(
        behind_harness(without)(edge_batch).prediction,
        behind_harness(with_dgl)(batch).prediction,
        rtol=1e-5,
        atol=1e-5,
    )
