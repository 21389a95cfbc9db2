"""The message-passing dispatch: DGL kernels and torch scatter kernels give the same numbers."""

from __future__ import annotations

import dgl
import pytest
import torch

from roma_bench.graphs import ops


def random_graph(num_nodes: int, num_edges: int, seed: int) -> dgl.DGLGraph:
    """Random multigraph; the last quarter of the nodes are isolated (no in- or out-edges)."""
    generator = torch.Generator().manual_seed(seed)
    active = max(num_nodes - num_nodes // 4, 1)
    src = torch.randint(active, (num_edges,), generator=generator)
    dst = torch.randint(active, (num_edges,), generator=generator)
    return dgl.graph((src, dst), num_nodes=num_nodes)


GRAPHS = {
    "random": lambda: random_graph(40, 160, 0),
    "sparse-with-isolated": lambda: random_graph(30, 12, 1),
    "no-edges": lambda: dgl.graph(([], []), num_nodes=7),
    "no-nodes": lambda: dgl.graph(([], []), num_nodes=0),
}


def reference(graph: dgl.DGLGraph, messages: torch.Tensor, reduce: str) -> torch.Tensor:
    """Loop-per-node reference of the aggregations in float64."""
    _, dst = graph.edges()
    out = torch.zeros((graph.num_nodes(), *messages.shape[1:]), dtype=torch.float64)
    for i in range(graph.num_nodes()):
        incoming = messages[dst == i].double()
        if len(incoming) == 0:
            continue
        if reduce == "sum":
            out[i] = incoming.sum(0)
        elif reduce == "mean":
            out[i] = incoming.mean(0)
        elif reduce == "max":
            out[i] = incoming.max(0).values
        else:
            out[i] = incoming.var(0, unbiased=False)
    return out


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("reduce", ops.REDUCES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 4)])
def test_aggregate_backends_agree_with_reference(name, reduce, shape):
    graph = GRAPHS[name]()
    messages = torch.randn((graph.num_edges(), *shape), generator=torch.Generator().manual_seed(3))
    by_dgl = ops.aggregate(graph, messages, reduce, backend="dgl")
    by_torch = ops.aggregate(graph, messages, reduce, backend="torch")
    expected = reference(graph, messages, reduce).float()
    assert by_dgl.shape == by_torch.shape == (graph.num_nodes(), *shape)
    torch.testing.assert_close(by_dgl, by_torch, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(by_torch, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("reduce", ops.REDUCES)
def test_aggregate_gradients_agree(name, reduce):
    graph = GRAPHS[name]()
    base = torch.randn((graph.num_edges(), 3), generator=torch.Generator().manual_seed(4))
    weights = torch.randn((graph.num_nodes(), 3), generator=torch.Generator().manual_seed(5))
    grads = []
    for backend in ("dgl", "torch"):
        messages = base.clone().requires_grad_(True)
        (ops.aggregate(graph, messages, reduce, backend=backend) * weights).sum().backward()
        grads.append(messages.grad if messages.grad is not None else torch.zeros_like(base))
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_sum_backends_agree(name, weighted):
    graph = GRAPHS[name]()
    generator = torch.Generator().manual_seed(6)
    x0 = torch.randn((graph.num_nodes(), 5), generator=generator)
    w0 = torch.rand(graph.num_edges(), generator=generator) if weighted else None
    results, grads = [], []
    for backend in ("dgl", "torch"):
        x = x0.clone().requires_grad_(True)
        w = w0.clone().requires_grad_(True) if weighted else None
        out = ops.weighted_sum(graph, x, w, backend=backend)
        out.pow(2).sum().backward()
        results.append(out.detach())
        grads.append(
            (
                x.grad if x.grad is not None else torch.zeros_like(x0),
                w.grad if weighted and w.grad is not None else None,
            )
        )
    torch.testing.assert_close(results[0], results[1], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-6, rtol=1e-6)
    if weighted and graph.num_edges():
        torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-6, rtol=1e-6)
    # against the definition h_i = Σ_{j→i} w_e x_j
    src, dst = graph.edges()
    expected = torch.zeros_like(x0)
    messages = x0[src] * (w0.view(-1, 1) if weighted else 1.0)
    expected.index_add_(0, dst, messages)
    torch.testing.assert_close(results[1], expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("shape", [(), (2,)])
def test_edge_softmax_backends_agree(name, shape):
    graph = GRAPHS[name]()
    base = 3 * torch.randn((graph.num_edges(), *shape), generator=torch.Generator().manual_seed(7))
    results, grads = [], []
    upstream = torch.randn_like(base)
    for backend in ("dgl", "torch"):
        scores = base.clone().requires_grad_(True)
        out = ops.edge_softmax(graph, scores, backend=backend)
        (out * upstream).sum().backward()
        results.append(out.detach())
        grads.append(scores.grad if scores.grad is not None else torch.zeros_like(base))
    torch.testing.assert_close(results[0], results[1], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grads[0], grads[1], atol=1e-6, rtol=1e-6)
    # the attention over the in-edges of every node with in-edges sums to one
    if graph.num_edges():
        _, dst = graph.edges()
        totals = torch.zeros((graph.num_nodes(), *shape)).index_add_(0, dst, results[1])
        has_in = graph.in_degrees() > 0
        torch.testing.assert_close(totals[has_in], torch.ones_like(totals[has_in]))


def test_multi_aggregate_concatenates_in_order():
    graph = GRAPHS["random"]()
    messages = torch.randn((graph.num_edges(), 2), generator=torch.Generator().manual_seed(8))
    stacked = ops.multi_aggregate(graph, messages, ("sum", "max"), backend="torch")
    torch.testing.assert_close(stacked[:, :2], ops.aggregate(graph, messages, "sum"))
    torch.testing.assert_close(stacked[:, 2:], ops.aggregate(graph, messages, "max"))


def test_gather_src_and_dst_follow_edges():
    graph = dgl.graph(([0, 2, 1], [1, 0, 2]))
    x = torch.tensor([[10.0], [20.0], [30.0]])
    assert ops.gather_src(graph, x).squeeze(1).tolist() == [10.0, 30.0, 20.0]
    assert ops.gather_dst(graph, x).squeeze(1).tolist() == [20.0, 10.0, 30.0]


def test_bad_inputs_are_named():
    graph = GRAPHS["random"]()
    with pytest.raises(ValueError, match="unknown reduce 'median'"):
        ops.aggregate(graph, torch.zeros(graph.num_edges()), "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="messages: expected 160 rows"):
        ops.aggregate(graph, torch.zeros(3), "sum")
