"""Physics-informed DeepONet baselines: ``don-pi``, ``don-mp-pi``, ``nomad-mp-pi``.

Same branches as :mod:`baselines.deeponet`, but the operator outputs a *latent field*
``u_i(t, y) ∈ ℝ^d`` over time and a latent coordinate ``y ∈ ℝ^d``, decoded by ROMA's
operator head (:class:`roma_bench.models.roma.operator.LatentOperator`; DeepONet or NOMAD),
and is trained with the same latent-PDE loss as ROMA's effective head
(:func:`roma_bench.models.roma.pde.pde_residual`, not re-implemented here):

- forecast: ``Δ_{i,k} = wᵀ u_i(t_k, y = 0) + c`` (normalized increments, ``t_k = k/H``);
- PDE at ``S`` collocation points, each at a random node of the batch, ``t ~ U(0, 1)``,
  ``y ~ N(0, σ_y² I)``:
  emergent (Kuramoto) ``r = ∂_t u − F(φ(t, y), u, ∇_y u, Δ_y u)``, Burgers (social)
  ``r = ∂_t u + F·(u·∇_y)u − ν Δ_y u`` with ``(F, ν)`` from the same network (``ν = softplus``);
- ``aux_losses = {"pde": w_pde·mean(r²), "gpde": w_gpde·mean(‖∇_(t,y) r‖²)}``.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field
from torch import Tensor, nn
from torch.nn import functional as F

from baselines.common import horizon_times
from baselines.deeponet import (
    _DON_SIZES,
    _MP_SIZES,
    _NOMAD_SIZES,
    DeepONetBase,
    DeepONetConfig,
)
from roma_bench.data.batch import Batch
from roma_bench.models.base import ModelOutput
from roma_bench.models.roma.operator import FourierFeatures, LatentOperator, ResidualTrunk
from roma_bench.models.roma.pde import FieldDerivatives, pde_residual
from roma_bench.registry import register_model


class PIDeepONetConfig(DeepONetConfig):
    """DeepONet knobs plus the latent field and the latent-PDE loss."""

    latent_dim: int = Field(2, ge=1, description="d: latent coordinates y and field components u")
    coord_features: int = Field(32, ge=2, description="Fourier features of (t, y), even")
    t_freq_std: float = Field(1.0, gt=0)
    y_freq_std: float = Field(1.0, gt=0)
    collocation: int = Field(128, ge=1, description="PDE collocation points (random nodes)")
    collocation_std: float = Field(1.0, gt=0, description="σ_y of the collocation points")
    pde: Literal["auto", "emergent", "burgers"] = Field(
        "auto", description="auto: emergent for kuramoto, burgers for social"
    )
    pde_width: int = Field(64, gt=0)
    pde_depth: int = Field(2, ge=1)
    w_pde: float = Field(1.0, ge=0)
    w_gpde: float = Field(1e-2, ge=0)


class PhysicsInformedDeepONet(DeepONetBase):
    """A DeepONet-family branch + ROMA's latent operator head + the latent-PDE loss."""

    Config = PIDeepONetConfig

    def branch_dim(self) -> int:
        return self.config.basis * self.config.latent_dim

    def build_head(self) -> None:
        c, d = self.config, self.config.latent_dim
        if c.coord_features % 2:
            raise ValueError(f"{self.name}: coord_features must be even, got {c.coord_features}")
        fourier = FourierFeatures(d, c.coord_features, c.t_freq_std, c.y_freq_std)
        self.operator = LatentOperator(
            fourier, 0, c.basis, d, d, c.trunk_width, c.trunk_depth, nonlinear=self.nonlinear
        )
        self.reduction = nn.Linear(d, 1)
        form = (
            c.pde
            if c.pde != "auto"
            else ("emergent" if self.spec.system == "kuramoto" else "burgers")
        )
        self.pde_form: Literal["emergent", "burgers"] = form
        rhs_out = d if form == "emergent" else 2
        rhs_in = c.coord_features + d + d * d + d
        self.rhs = ResidualTrunk(rhs_in, rhs_out, c.pde_width, c.pde_depth)

    def field(self, tx: Tensor, coeffs: Tensor) -> Tensor:
        """Latent field ``u`` ``[N, d]`` at rows ``tx`` ``[N, 1 + d]`` with coefficients ``[N, p·d]``."""
        return self.operator(tx, tx.new_zeros(tx.shape[0], 0), coeffs)

    def right_hand_side(self, tx: Tensor, der: FieldDerivatives) -> Tensor | tuple[Tensor, Tensor]:
        """``F`` ``[N, d]`` (emergent) or ``(F, ν)`` ``[N, 1]`` each (Burgers) at rows ``tx``."""
        phi = self.operator.fourier(tx)
        out = self.rhs(torch.cat([phi, der.u, der.grad_y.flatten(1), der.lap_y], dim=-1))
        if self.pde_form == "emergent":
            return out
        return out[:, :1], F.softplus(out[:, 1:2])

    def forward(self, batch: Batch) -> ModelOutput:
        coeffs = self.encode(batch)  # [n, p·d]
        n, d = coeffs.shape[0], self.config.latent_dim
        times = horizon_times(batch)  # [H, 1]
        horizon = times.shape[0]
        tx = torch.cat([times.repeat(n, 1), times.new_zeros(n * horizon, d)], dim=-1)
        u = self.field(tx, coeffs.repeat_interleave(horizon, dim=0))
        increments = self.reduction(u).view(n, horizon)
        output = ModelOutput(prediction=increments)
        c = self.config
        # The residual is a diagnostic in evaluation, a loss in training (unless both weights are 0).
        if c.w_pde > 0 or c.w_gpde > 0 or not self.training:
            points, device, dtype = c.collocation, coeffs.device, coeffs.dtype
            # fresh points every training step; fixed ones in evaluation (reproducible scores)
            gen = None if self.training else torch.Generator(device).manual_seed(0)
            nodes = torch.randint(0, n, (points,), device=device, generator=gen)
            t = torch.rand(points, 1, device=device, dtype=dtype, generator=gen)
            y = c.collocation_std * torch.randn(
                points, d, device=device, dtype=dtype, generator=gen
            )
            coll_coeffs = coeffs.index_select(0, nodes)
            result = pde_residual(
                lambda x: self.field(x, coll_coeffs),
                self.right_hand_side,
                torch.cat([t, y], dim=-1),
                form=self.pde_form,
                with_gradient=c.w_gpde > 0,
            )
            mse = result.residual.square().mean()
            output.aux_losses["pde"] = c.w_pde * mse
            if result.gradient is not None:
                output.aux_losses["gpde"] = c.w_gpde * result.gradient.square().mean()
            output.diagnostics["pde_residual"] = mse.detach()
        return output


def _pi_sizes(
    sizes: dict[str, dict[str, Any]], base_extra: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    return {
        "tiny": {**sizes["tiny"], "latent_dim": 2, "pde_width": 64, "collocation": 32},
        "base": {**sizes["base"], "latent_dim": 2, **base_extra},
    }


# Base sizes match ROMA-B (≈264M parameters) within 10% (tests/baselines/test_baseline_sizes.py).
@register_model("don-pi")
class DeepONetPI(PhysicsInformedDeepONet):
    """Physics-informed ``don``: residual-MLP branch, linear latent operator, latent-PDE loss."""

    SIZES = _pi_sizes(_DON_SIZES, {"depth": 14, "pde_width": 1024, "coord_features": 256})


@register_model("don-mp-pi")
class DeepONetMPPI(PhysicsInformedDeepONet):
    """Physics-informed ``don-mp``: message passing + transformer branch, latent-PDE loss."""

    SIZES = _pi_sizes(_MP_SIZES, {"depth": 7, "pde_width": 1024, "coord_features": 256})
    message_passing = True


@register_model("nomad-mp-pi")
class NomadMPPI(PhysicsInformedDeepONet):
    """Physics-informed ``nomad-mp``: nonlinear latent operator, latent-PDE loss."""

    SIZES = _pi_sizes(_NOMAD_SIZES, {"depth": 7, "pde_width": 1024, "coord_features": 256})
    message_passing = True
    nonlinear = True
