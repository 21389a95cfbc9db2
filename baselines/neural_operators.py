"""Neural operators from ``neuralop`` (2.0.0): FNO / TFNO over each node's lookback window, GINO.

Inputs are the harness's normalized node inputs ``v_i = [x̃_i, s_i]`` ``[κ+S]`` (history
increments and offset-free state, :func:`roma_bench.models.inputs.node_inputs`); outputs are
normalized increments ``Δ`` ``[n, H]`` (the harness decodes them).

- ``fno``: each node's window is a 1-D function on the κ lookback frames with channels
  ``(x̃_i, mean_{j→i} x̃_j, max_{j→i} x̃_j)`` plus ``s_i`` and ``mean_{j→i} s_j`` held constant
  along the window (``3 + 2S`` channels). ``neuralop.models.FNO`` maps it to ``H`` output
  channels on the same grid ``[n, H, κ]``; a learned readout over the grid gives
  ``Δ_{i,h} = Σ_k r_k · FNO(·)_{i,h,k} + c``.
- ``tfno``: the same with ``neuralop.models.TFNO`` (Tucker-factorized spectral weights).
- ``gino``: ``neuralop.models.GINO`` with the nodes as points of the Poincaré disk
  (:func:`~baselines.common.poincare_disk`), input features ``[v_i, mean_j v_j, max_j v_j]``
  ``[n, 3(κ+S)]``,
  a ``G×G`` latent grid on ``[−1, 1]²`` for its FNO, and output queries at the nodes,
  plus a pointwise linear path: ``Δ = GINO(disk(coords), grid, disk(coords), features)
  + W·features_i`` ``[n, H]``. GINO's kernel integrals average over disk neighbourhoods,
  so without that path a node's own drift never reaches its output (it trained to
  persistence on km-tiny's validation nodes); FNO's layers keep the same pointwise ``W``.

The FNO/TFNO spectral convolutions are ``neuralop``'s with their FFTs along the short window
written as DFT matrix products (:class:`baselines.spectral.WindowSpectralConv`: the same
weights and numbers, a tenth less time per training step; ``benchmarks/spectral.py``).
The wrappers run without open3d and torch_scatter: GINO's native torch neighbour search, and its
segment reductions through :mod:`baselines.segments` (one ``index_add`` instead of
``neuralop``'s per-point loop, whose backward cost a third of a step). Spectral weights are complex;
:meth:`num_parameters` counts real numbers.
"""

from __future__ import annotations

from typing import Any

import torch
from neuralop.models import FNO, GINO, TFNO
from pydantic import Field
from torch import Tensor, nn

from baselines import segments
from baselines.common import (
    feature_width,
    input_width,
    neighbour_history,
    node_inputs,
    poincare_disk,
    real_parameter_count,
)
from baselines.spectral import WindowSpectralConv
from roma_bench.config import StrictModel
from roma_bench.data.batch import Batch
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.registry import register_model

segments.install()


class NeuralOperatorModel(ForecastModel):
    """Base of the ``neuralop`` wrappers: real parameter counts, plain-tensor state dicts.

    ``neuralop``'s ``BaseModel.state_dict`` adds a ``_metadata`` entry holding its init
    kwargs (functions such as ``F.gelu``), which ``torch.load(weights_only=True)`` refuses;
    our checkpoints rebuild the model from its config, so that entry is dropped.
    """

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        state = super().state_dict(*args, **kwargs)
        state.pop("_metadata", None)
        return state

    def num_parameters(self, trainable_only: bool = True) -> int:
        return real_parameter_count(self, trainable_only)


class FNOConfig(StrictModel):
    """Knobs of the FNO over the lookback window."""

    hidden_channels: int = Field(32, gt=0)
    n_layers: int = Field(4, ge=1)
    n_modes: int = Field(8, gt=0, description="Fourier modes kept along the lookback axis")
    rank: float = Field(0.1, gt=0, le=1, description="Tucker rank (tfno only)")


class WindowFNO(NeuralOperatorModel):
    """A ``neuralop`` FNO over each node's lookback window with neighbour channels (see module)."""

    Config = FNOConfig
    operator_class: type[FNO] = FNO
    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"hidden_channels": 52, "n_layers": 4, "n_modes": 8},
        # 4 layers × (2·h²·5 spectral + h² skip + h² MLP) ≈ 264M real parameters.
        "base": {"hidden_channels": 2250, "n_layers": 4, "n_modes": 8},
    }

    def __init__(self, config: FNOConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        kwargs: dict[str, Any] = {}
        if self.operator_class is TFNO:
            kwargs["rank"] = config.rank
        self.operator = self.operator_class(
            n_modes=(min(config.n_modes, spec.lookback),),
            in_channels=3 + 2 * feature_width(spec),
            out_channels=spec.horizon,
            hidden_channels=config.hidden_channels,
            n_layers=config.n_layers,
            conv_module=WindowSpectralConv,
            **kwargs,
        )
        self.readout = nn.Linear(spec.lookback, 1)

    def forward(self, batch: Batch) -> ModelOutput:
        inputs = node_inputs(batch)  # [n, κ+S]
        width, kappa = inputs.shape[1], self.spec.lookback
        neighbours = neighbour_history(batch, inputs)  # [n, 2(κ+S)]: mean, max
        mean, peak = neighbours[:, :width], neighbours[:, width:]
        series = torch.stack([inputs[:, :kappa], mean[:, :kappa], peak[:, :kappa]], dim=1)
        states = torch.cat([inputs[:, kappa:], mean[:, kappa:]], dim=1)  # [n, 2(p+S)]
        channels = torch.cat([series, states.unsqueeze(-1).expand(-1, -1, kappa)], dim=1)
        field = self.operator(channels)  # [n, H, κ]
        return ModelOutput(prediction=self.readout(field).squeeze(-1))


@register_model("fno")
class WindowFNOModel(WindowFNO):
    """``neuralop.models.FNO`` over the lookback window (dense spectral weights)."""


@register_model("tfno")
class WindowTFNOModel(WindowFNO):
    """``neuralop.models.TFNO`` over the lookback window (Tucker-factorized spectral weights)."""

    operator_class = TFNO
    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"hidden_channels": 68, "n_layers": 4, "n_modes": 8, "rank": 0.5},
        "base": {"hidden_channels": 2890, "n_layers": 4, "n_modes": 8, "rank": 0.5},
    }


class GINOConfig(StrictModel):
    """Knobs of GINO on the Poincaré disk."""

    hidden_channels: int = Field(32, gt=0, description="FNO channels on the latent grid")
    n_layers: int = Field(2, ge=1)
    n_modes: int = Field(8, gt=0, description="Fourier modes per axis of the latent grid")
    latent_grid: int = Field(16, ge=2, description="G: the latent grid has G×G points")
    radius: float = Field(0.2, gt=0, description="GNO neighbour radius in the disk (in and out)")
    gno_width: int = Field(32, gt=0, description="hidden width of the GNO kernel MLPs")
    edge_radius: float = Field(0.9, gt=0, lt=1, description="disk radius of the graph's rim")


@register_model("gino")
class DiskGINO(NeuralOperatorModel):
    """``neuralop.models.GINO`` with the nodes embedded in the Poincaré disk (see module)."""

    Config = GINOConfig
    SIZES: dict[str, dict[str, Any]] = {
        "tiny": {"hidden_channels": 27, "n_layers": 2, "n_modes": 8, "latent_grid": 16},
        "base": {
            "hidden_channels": 470,
            "n_layers": 4,
            "n_modes": 16,
            "latent_grid": 32,
            "gno_width": 1024,
            "radius": 0.1,
        },
    }

    def __init__(self, config: GINOConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        c = config
        modes = min(c.n_modes, c.latent_grid)
        self.operator = GINO(
            in_channels=3 * input_width(spec),
            out_channels=spec.horizon,
            gno_coord_dim=2,
            in_gno_radius=c.radius,
            out_gno_radius=c.radius,
            fno_in_channels=3 * input_width(spec),  # the linear GNO kernel keeps the channel count
            fno_n_modes=(modes, modes),
            fno_hidden_channels=c.hidden_channels,
            fno_n_layers=c.n_layers,
            in_gno_channel_mlp_hidden_layers=[c.gno_width, c.gno_width],
            out_gno_channel_mlp_hidden_layers=[c.gno_width, c.gno_width],
            gno_use_open3d=False,
            gno_use_torch_scatter=False,
        )
        self.local = nn.Linear(3 * input_width(spec), spec.horizon)  # the pointwise path
        axis = torch.linspace(-1.0, 1.0, c.latent_grid)
        grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1)
        self.register_buffer("latent_queries", grid.unsqueeze(0), persistent=False)

    def forward(self, batch: Batch) -> ModelOutput:
        inputs = node_inputs(batch)
        features = torch.cat([inputs, neighbour_history(batch, inputs)], dim=-1)
        points = poincare_disk(batch.coords, self.spec.num_nodes, self.config.edge_radius)
        points = points.to(features.dtype).unsqueeze(0)  # [1, n, 2]
        increments: Tensor = self.operator(
            input_geom=points,
            latent_queries=self.latent_queries.to(features.dtype),
            output_queries=points,
            x=features.unsqueeze(0),
        ).squeeze(0)  # [n, H]
        return ModelOutput(prediction=increments + self.local(features))
