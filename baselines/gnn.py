"""Graph neural network baselines: GCN and GAT (``dgl.nn`` layers) and a MeshGraphNet-style MPNN.

All read node features ``[x̃_i, state_i, enc_i]`` (the harness's normalized history and
state ``[n, κ+S]``, :func:`roma_bench.models.inputs.node_inputs`, and positional encodings
``[n, P]``), run ``depth`` residual graph layers of ``width`` channels and return
normalized increments ``[n, H]`` (the harness decodes them).

- ``gcn``: ``h ← h + GELU(GraphConv(h))``, ``GraphConv(h)_i = Σ_{j∈N(i)∪{i}} h_j W / √(d_j d_i) + b``.
- ``gat``: ``h ← h + GELU(concat_heads GATConv(h))``, with
  ``a_ij = softmax_j LeakyReLU(a_lᵀ W h_j + a_rᵀ W h_i)``, ``GATConv(h)_i = Σ_j a_ij W h_j + b``.
- ``mpnn`` (encode–process–decode, MeshGraphNet): edge latents from ``[v_j − v_i, p_j − p_i,
  |p_j − p_i|]`` (``v = [x̃, state]``) (``p`` = Poincaré-disk points); each step
  ``e_ij ← e_ij + φ_e([e_ij, h_j, h_i])``, ``h_i ← h_i + φ_n([h_i, (1/d_i) Σ_{j→i} e_ij])``.
  Two departures from MeshGraphNet, both because the node's own drift must survive to the
  decoder: the mean where MeshGraphNet sums (a hyperbolic graph has hubs of degree ~√N,
  whose summed message grows with the degree), and no LayerNorm after the node encoder
  (it rescales each node's latent to unit size, and the size of a node's history
  increments is its drift). With both, 300 steps on km-tiny take the validation loss from
  1.8 to 0.028; with MeshGraphNet's choices it stayed at 0.52–0.76 (persistence: 1.0).

The installed DGL runs on the CPU only; when the features live on a device DGL cannot use,
:class:`GraphConvLayer` and :class:`GATLayer` evaluate the *same parameters* with the torch
kernels of :mod:`roma_bench.graphs.ops` (``tests/baselines/test_gnn_layers.py`` checks that
both paths agree). Where DGL cannot be imported at all (a current CUDA torch), the layers
are :class:`TorchGraphConv` / :class:`TorchGATConv`, torch twins of the ``dgl.nn`` layers
with the same parameter names and initialization, so a checkpoint loads either way. The
MPNN always goes through ``ops``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from baselines.common import MLP, input_width, node_features, node_inputs, poincare_disk
from roma_bench.config import StrictModel
from roma_bench.data.batch import Batch
from roma_bench.graphs import backend as graph_backend
from roma_bench.graphs import ops
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.registry import register_model

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph

_SELF_LOOP_ATTR = "_roma_bench_self_loops"


def with_self_loops(graph: Graph) -> Graph:
    """``graph`` with exactly one self-loop per node (cached on the graph object, CPU)."""
    cached = graph.__dict__.get(_SELF_LOOP_ATTR)
    if cached is None:
        cached = graph_backend.add_self_loops(graph)
        graph.__dict__[_SELF_LOOP_ATTR] = cached
    return cached


class TorchGraphConv(nn.Module):
    """Torch twin of ``dgl.nn.GraphConv(norm='both', allow_zero_in_degree=True)``: the same
    parameters (``weight`` ``[in, out]``, ``bias`` ``[out]``), the same initialization and
    random draws, the same arithmetic order, on :mod:`roma_bench.graphs.ops` kernels.

    ``h_i = d_in(i)^{-1/2} Σ_{j→i} d_out(j)^{-1/2} x_j W + b`` (degrees clamped to >= 1).
    """

    def __init__(self, in_feats: int, out_feats: int) -> None:
        super().__init__()
        self._in_feats, self._out_feats = in_feats, out_feats
        self.weight = nn.Parameter(torch.empty(in_feats, out_feats))
        self.bias = nn.Parameter(torch.empty(out_feats))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, graph: Graph, feat: Tensor) -> Tensor:
        src, dst = ops.edge_index(graph, feat.device)
        n = graph.num_nodes()
        shape = (-1,) + (1,) * (feat.dim() - 1)
        d_out = torch.bincount(src, minlength=n).to(feat).clamp(min=1)
        feat = feat * torch.pow(d_out, -0.5).reshape(shape)
        if self._in_feats > self._out_feats:  # multiply first: fewer channels to aggregate
            rst = ops.weighted_sum(graph, torch.matmul(feat, self.weight), backend="torch")
        else:
            rst = torch.matmul(ops.weighted_sum(graph, feat, backend="torch"), self.weight)
        d_in = torch.bincount(dst, minlength=n).to(feat).clamp(min=1)
        return rst * torch.pow(d_in, -0.5).reshape(shape) + self.bias


class TorchGATConv(nn.Module):
    """Torch twin of ``dgl.nn.GATConv(in, out, heads, allow_zero_in_degree=True)``: the same
    parameters (``fc.weight``, ``attn_l``, ``attn_r``, ``bias``), initialization and random
    draws. ``[n, in] → [n, heads, out]``."""

    def __init__(self, in_feats: int, out_feats: int, num_heads: int) -> None:
        super().__init__()
        self._num_heads, self._out_feats = num_heads, out_feats
        self.fc = nn.Linear(in_feats, out_feats * num_heads, bias=False)
        self.attn_l = nn.Parameter(torch.empty(1, num_heads, out_feats))
        self.attn_r = nn.Parameter(torch.empty(1, num_heads, out_feats))
        self.leaky_relu = nn.LeakyReLU(0.2)
        self.bias = nn.Parameter(torch.empty(num_heads * out_feats))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        gain = nn.init.calculate_gain("relu")
        nn.init.xavier_normal_(self.fc.weight, gain=gain)
        nn.init.xavier_normal_(self.attn_l, gain=gain)
        nn.init.xavier_normal_(self.attn_r, gain=gain)
        nn.init.constant_(self.bias, 0)

    def forward(self, graph: Graph, feat: Tensor) -> Tensor:
        return _gat_torch(self, graph, feat, self._num_heads, self._out_feats)


def _gat_torch(conv: nn.Module, graph: Graph, x: Tensor, heads: int, out_dim: int) -> Tensor:
    """GATConv's forward on the torch kernels, with the parameters of ``conv`` (either class)."""
    feat = conv.fc(x).view(-1, heads, out_dim)
    el = (feat * conv.attn_l).sum(-1, keepdim=True)  # [n, heads, 1]
    er = (feat * conv.attn_r).sum(-1, keepdim=True)
    scores = conv.leaky_relu(ops.gather_src(graph, el) + ops.gather_dst(graph, er))
    attention = ops.edge_softmax(graph, scores, backend="torch")  # [E, heads, 1]
    messages = ops.gather_src(graph, feat) * attention
    out = ops.aggregate(graph, messages, "sum", backend="torch")
    return out + conv.bias.view(1, heads, out_dim)


def _dgl_layers() -> Any:
    """``dgl.nn`` where DGL loads, else ``None`` (the layers are then the torch twins)."""
    return graph_backend.dgl_nn() if graph_backend.HAVE_DGL else None


def _use_dgl(graph: Graph, x: Tensor, backend: ops.Backend, conv: nn.Module) -> bool:
    """:func:`roma_bench.graphs.ops.use_dgl_kernels`, and never for a torch twin."""
    if backend == "dgl":
        graph_backend.require_dgl("backend='dgl'")
    if isinstance(conv, TorchGraphConv | TorchGATConv):
        if backend == "dgl":
            raise RuntimeError("backend='dgl': this layer was built without DGL (torch twin)")
        return False
    return ops.use_dgl_kernels(graph, x.device, backend)


class GraphConvLayer(nn.Module):
    """``dgl.nn.GraphConv`` (``norm='both'``) where DGL loads, else :class:`TorchGraphConv`
    (same parameter names, so checkpoints load either way); with DGL, features on a device
    DGL cannot use go through the torch kernels on the same weights.

    ``[n, in] → [n, out]``: ``h_i = Σ_{j→i} x_j W / √(max(d_out(j),1)·max(d_in(i),1)) + b``.
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        layers = _dgl_layers()
        self.conv = (
            layers.GraphConv(in_dim, out_dim, norm="both", allow_zero_in_degree=True)
            if layers is not None
            else TorchGraphConv(in_dim, out_dim)
        )

    def forward(self, graph: Graph, x: Tensor, backend: ops.Backend = "auto") -> Tensor:
        if _use_dgl(graph, x, backend, self.conv):
            return self.conv(graph if graph.device == x.device else graph.to(x.device), x)
        return TorchGraphConv.forward(self.conv, graph, x)


class GATLayer(nn.Module):
    """``dgl.nn.GATConv`` with heads concatenated where DGL loads, else :class:`TorchGATConv`
    (same parameter names); with DGL, features on a device DGL cannot use go through the torch
    kernels on the same weights.

    ``[n, in] → [n, heads·out]`` (see the module docstring for the attention formula).
    """

    def __init__(self, in_dim: int, out_dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.out_dim = heads, out_dim
        layers = _dgl_layers()
        self.conv = (
            layers.GATConv(in_dim, out_dim, heads, allow_zero_in_degree=True)
            if layers is not None
            else TorchGATConv(in_dim, out_dim, heads)
        )

    def forward(self, graph: Graph, x: Tensor, backend: ops.Backend = "auto") -> Tensor:
        if _use_dgl(graph, x, backend, self.conv):
            out = self.conv(graph if graph.device == x.device else graph.to(x.device), x)
            return out.flatten(1)
        return _gat_torch(self.conv, graph, x, self.heads, self.out_dim).flatten(1)


class GNNConfig(StrictModel):
    """Widths of a GNN baseline."""

    width: int = Field(64, gt=0)
    depth: int = Field(3, ge=1, description="graph layers (processor steps for mpnn)")
    heads: int = Field(4, ge=1, description="attention heads (gat only)")
    use_encodings: bool = True


class ResidualGNN(ForecastModel):
    """Shared encode → ``depth`` residual graph layers → decode; subclasses pick the layer."""

    Config = GNNConfig
    layer_kind: ClassVar[str] = "gcn"

    def __init__(self, config: GNNConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        c = config
        in_dim = input_width(spec) + (spec.encoding_dim if c.use_encodings else 0)
        self.encoder = nn.Linear(in_dim, c.width)
        if self.layer_kind == "gat" and c.width % c.heads:
            raise ValueError(f"{self.name}: width={c.width} must be divisible by heads={c.heads}")
        self.layers = nn.ModuleList(
            GATLayer(c.width, c.width // c.heads, c.heads)
            if self.layer_kind == "gat"
            else GraphConvLayer(c.width, c.width)
            for _ in range(c.depth)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(c.width) for _ in range(c.depth))
        self.decoder = MLP(c.width, c.width, spec.horizon, depth=1)

    def forward(self, batch: Batch) -> ModelOutput:
        h = self.encoder(node_features(batch, self.config.use_encodings))
        graph = with_self_loops(batch.graph)
        for layer, norm in zip(self.layers, self.norms):
            h = h + F.gelu(layer(graph, norm(h)))
        return ModelOutput(prediction=self.decoder(h))


# Base sizes match ROMA-B (≈264M parameters) within 10% (tests/baselines/test_baseline_sizes.py).
@register_model("gcn")
class GCN(ResidualGNN):
    """Residual GCN of ``dgl.nn.GraphConv`` layers with self-loops."""

    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"width": 152, "depth": 5},
        "base": {"width": 7424, "depth": 4},
    }
    layer_kind = "gcn"


@register_model("gat")
class GAT(ResidualGNN):
    """Residual GAT of ``dgl.nn.GATConv`` layers (heads concatenated) with self-loops."""

    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"width": 152, "depth": 5, "heads": 4},
        "base": {"width": 7424, "depth": 4, "heads": 16},
    }
    layer_kind = "gat"


class MPNNConfig(GNNConfig):
    """Widths of the MeshGraphNet-style MPNN (``depth`` processor steps)."""

    edge_radius: float = Field(0.9, gt=0, lt=1, description="Poincaré-disk rim of the graph")


@register_model("mpnn")
class MPNN(ForecastModel):
    """Encode–process–decode MPNN with edge-MLP messages (MeshGraphNet), all through ops.py."""

    Config = MPNNConfig
    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"width": 76, "depth": 3},
        "base": {"width": 1536, "depth": 15},
    }

    def __init__(self, config: MPNNConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        c = config
        in_dim = input_width(spec) + (spec.encoding_dim if c.use_encodings else 0)
        # No LayerNorm on the node encoder (MeshGraphNet has one): it rescales each node's
        # latent to unit size, and the size of a node's history increments is its drift.
        self.node_encoder = MLP(in_dim, c.width, c.width)
        self.edge_encoder = nn.Sequential(
            MLP(input_width(spec) + 3, c.width, c.width), nn.LayerNorm(c.width)
        )
        self.edge_mlps = nn.ModuleList(
            nn.Sequential(MLP(3 * c.width, c.width, c.width), nn.LayerNorm(c.width))
            for _ in range(c.depth)
        )
        self.node_mlps = nn.ModuleList(
            nn.Sequential(MLP(2 * c.width, c.width, c.width), nn.LayerNorm(c.width))
            for _ in range(c.depth)
        )
        self.decoder = MLP(c.width, c.width, spec.horizon, depth=1)

    def forward(self, batch: Batch) -> ModelOutput:
        graph = batch.graph
        inputs = node_inputs(batch)
        h = self.node_encoder(node_features(batch, self.config.use_encodings))
        points = poincare_disk(batch.coords, self.spec.num_nodes, self.config.edge_radius)
        offset = ops.gather_src(graph, points) - ops.gather_dst(graph, points)
        history_gap = ops.gather_src(graph, inputs) - ops.gather_dst(graph, inputs)
        e = self.edge_encoder(
            torch.cat([history_gap, offset, offset.norm(dim=-1, keepdim=True)], dim=-1)
        )
        for edge_mlp, node_mlp in zip(self.edge_mlps, self.node_mlps):
            e = e + edge_mlp(torch.cat([e, ops.gather_src(graph, h), ops.gather_dst(graph, h)], -1))
            h = h + node_mlp(torch.cat([h, ops.aggregate(graph, e, "mean")], dim=-1))
        return ModelOutput(prediction=self.decoder(h))
