"""The ROMA paper's operator baselines: DeepONet, DeepONet with message passing, NOMAD.

All three read the harness's normalized node inputs ``v_i = [x̃_i, state_i]`` ``[κ+S]``
(:func:`roma_bench.models.inputs.node_inputs`) and return normalized increments as an
operator ``G(v_i)(t)`` evaluated at the H target times ``t_k = k/H``:

- ``don``: branch ``b_i = ResMLP(v_i) ∈ ℝ^p`` over the node's own history (no graph),
  trunk ``τ(t) = MLP(fourier(t)) ∈ ℝ^p``, linear decoder
  ``Δ_{i,k} = ⟨b_i, τ(t_k)⟩ / √p + β``.
- ``don-mp``: node tokens ``h_i = EdgeConv(Linear(v_i))`` (one message-passing layer, single
  scale) then a transformer encoder over the batch's node tokens (in blocks of
  ``attention_block`` contiguous nodes on large subgraphs); branch ``b_i = W h_i``; the
  same linear decoder.
- ``nomad-mp``: the don-mp branch with a nonlinear decoder (NOMAD)
  ``Δ_{i,k} = MLP([b_i, τ(t_k)])``.

Their physics-informed variants (``-pi``) live in :mod:`baselines.deeponet_pi`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import Tensor, nn

from baselines.common import (
    MLP,
    EdgeConv,
    ResidualMLP,
    fourier_features,
    horizon_times,
    input_width,
    node_inputs,
)
from roma_bench.config import StrictModel
from roma_bench.data.batch import Batch
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.registry import register_model


class DeepONetConfig(StrictModel):
    """Widths of a DeepONet-family baseline (branch, trunk, basis/decoder)."""

    width: int = Field(64, gt=0, description="branch width")
    depth: int = Field(2, ge=1, description="residual blocks (don) or transformer layers (-mp)")
    heads: int = Field(4, ge=1, description="attention heads of the transformer branch (-mp)")
    attention_block: int = Field(2048, ge=1, description="max node tokens attending together")
    basis: int = Field(32, gt=0, description="p: size of the branch/trunk basis (latent for NOMAD)")
    trunk_width: int = Field(64, gt=0)
    trunk_depth: int = Field(2, ge=1)
    frequencies: int = Field(4, ge=0, description="Fourier features of the trunk's time input")
    decoder_width: int = Field(64, gt=0, description="hidden width of NOMAD's decoder")
    decoder_depth: int = Field(2, ge=1)


class DeepONetBase(ForecastModel):
    """Shared DeepONet machinery; subclasses set ``message_passing`` and ``nonlinear``.

    :meth:`encode` returns the branch coefficients ``[n, p]``; :meth:`decode` maps them and
    the trunk features at the H target times to normalized increments ``[n, H]``.
    """

    Config = DeepONetConfig
    message_passing: ClassVar[bool] = False
    nonlinear: ClassVar[bool] = False

    def __init__(self, config: DeepONetConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        c = config
        out_dim = self.branch_dim()
        if self.message_passing:
            if c.width % c.heads:
                raise ValueError(
                    f"{self.name}: width={c.width} must be divisible by heads={c.heads}"
                )
            self.embed = nn.Linear(input_width(spec), c.width)
            self.mp = EdgeConv(c.width)
            layer = nn.TransformerEncoderLayer(
                c.width,
                c.heads,
                2 * c.width,
                dropout=0.0,
                batch_first=True,
                norm_first=True,
                activation="gelu",
            )
            self.transformer = nn.TransformerEncoder(layer, c.depth, enable_nested_tensor=False)
            self.branch_out = nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, out_dim))
        else:
            self.branch = ResidualMLP(input_width(spec), c.width, out_dim, c.depth)
        self.build_head()

    def branch_dim(self) -> int:
        """Width of the branch output (``p`` for the plain DeepONet)."""
        return self.config.basis

    def build_head(self) -> None:
        """Build the trunk and decoder (linear: a bias; NOMAD: an MLP decoder)."""
        c = self.config
        self.trunk = MLP(1 + 2 * c.frequencies, c.trunk_width, c.basis, c.trunk_depth)
        if self.nonlinear:
            self.decoder = MLP(2 * c.basis, c.decoder_width, 1, c.decoder_depth)
        else:
            self.bias = nn.Parameter(torch.zeros(1))

    def encode(self, batch: Batch) -> Tensor:
        """Branch coefficients ``[n, p]`` from the node inputs ``[n, κ+S]`` (and the graph)."""
        inputs = node_inputs(batch)
        if not self.message_passing:
            return self.branch(inputs)
        h = self.mp(batch.graph, self.embed(inputs))
        return self.branch_out(self.attend(h))

    def attend(self, h: Tensor) -> Tensor:
        """Transformer over node tokens ``[n, d] → [n, d]``, in blocks of ``attention_block``.

        Tokens attend within contiguous blocks of at most ``attention_block`` nodes (node ids
        are ordered for locality), so memory stays O(n·block) on large evaluation subgraphs;
        a batch no larger than one block gets full attention.
        """
        n, width = h.shape
        block = self.config.attention_block
        if n <= block:
            return self.transformer(h.unsqueeze(0)).squeeze(0)
        blocks = -(-n // block)
        padded = h.new_zeros(blocks * block, width)
        padded[:n] = h
        mask = torch.ones(blocks * block, dtype=torch.bool, device=h.device)
        mask[:n] = False  # True marks padding
        out = self.transformer(
            padded.view(blocks, block, width), src_key_padding_mask=mask.view(blocks, block)
        )
        return out.reshape(blocks * block, width)[:n]

    def trunk_features(self, times: Tensor) -> Tensor:
        """``[H, 1]`` relative times → ``[H, p]`` trunk basis functions ``τ(t)``."""
        return self.trunk(fourier_features(times, self.config.frequencies))

    def decode(self, branch: Tensor, trunk: Tensor) -> Tensor:
        """``[n, p] × [H, p] → [n, H]`` normalized increments (linear or NOMAD decoder)."""
        if not self.nonlinear:
            return branch @ trunk.T / branch.shape[-1] ** 0.5 + self.bias
        n, horizon = branch.shape[0], trunk.shape[0]
        pairs = torch.cat(
            [branch.unsqueeze(1).expand(n, horizon, -1), trunk.unsqueeze(0).expand(n, horizon, -1)],
            dim=-1,
        )
        return self.decoder(pairs).squeeze(-1)

    def forward(self, batch: Batch) -> ModelOutput:
        branch = self.encode(batch)
        increments = self.decode(branch, self.trunk_features(horizon_times(batch)))
        return ModelOutput(prediction=increments)


# Base sizes match ROMA-B (≈264M parameters) within 10% (tests/baselines/test_baseline_sizes.py).
_DON_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"width": 96, "depth": 3, "basis": 64, "trunk_width": 128},
    "base": {"width": 2048, "depth": 15, "basis": 2048, "trunk_width": 2048, "trunk_depth": 4},
}
_MP_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {"width": 80, "depth": 2, "heads": 4, "basis": 48, "trunk_width": 96},
    "base": {
        "width": 2048,
        "depth": 7,
        "heads": 16,
        "basis": 2048,
        "trunk_width": 2048,
        "trunk_depth": 4,
    },
}
_NOMAD_SIZES: dict[str, dict[str, Any]] = {
    "tiny": {**_MP_SIZES["tiny"], "basis": 40, "trunk_width": 80, "decoder_width": 80},
    "base": {**_MP_SIZES["base"], "depth": 6, "decoder_width": 2048, "decoder_depth": 3},
}


@register_model("don")
class DeepONet(DeepONetBase):
    """DeepONet with a residual-MLP branch over each node's own history (no graph)."""

    SIZES = _DON_SIZES


@register_model("don-mp")
class DeepONetMP(DeepONetBase):
    """DeepONet whose branch is one EdgeConv layer + a transformer over node tokens."""

    SIZES = _MP_SIZES
    message_passing = True


@register_model("nomad-mp")
class NomadMP(DeepONetBase):
    """NOMAD (nonlinear decoder) with the message-passing + transformer branch of don-mp."""

    SIZES = _NOMAD_SIZES
    message_passing = True
    nonlinear = True
