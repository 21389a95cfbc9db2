"""Physics-informed DeepONet baselines: ``don-pi``, ``don-mp-pi``, ``nomad-mp-pi``.

Same branches as :mod:`baselines.deeponet`, but the operator outputs a *latent field*
``u_i(t, y) ∈ ℝ^d`` over time and a latent coordinate ``y ∈ ℝ^d``, decoded by ROMA's
operator head (:class:`roma_bench.models.roma.operator.LatentOperator`; DeepONet or NOMAD),
and is trained with ROMA's latent-PDE module itself
(:class:`roma_bench.models.roma.latent_pde.LatentPDE`: the same right-hand-side network
class, the same inputs, the same points), so ``pde_residual`` is one column across models:

- node representation ``z_i``: the branch output ``b_i`` for ``don-pi`` (no graph), the
  transformer's node token ``h_i`` for ``don-mp-pi``/``nomad-mp-pi``; branch coefficients
  ``b_i`` ``[p·d]``;
- points (:func:`~roma_bench.models.roma.latent_pde.supervised_points`): the supervised lead
  times ``τ_k = k`` (frames, k = 1…H) at the node's own coordinate ``y = 0``, as ROMA;
- forecast: ``Δ_{i,k} = wᵀ u_i(τ_k, y = 0) + c`` (normalized increments);
- residual: emergent (Kuramoto) ``r = ∂_t u − F(φ(t, y), z, u, ∇_y u, Δ_y u; b)``, Burgers
  (social) ``r = ∂_t u + F·(u·∇_y)u − ν Δ_y u`` with ``(F, ν)`` conditioned on ``[φ, z]; b``;
- ``aux_losses = {"pde": w_pde·mean(r²), "gpde": w_gpde·mean(‖∇_(t,y) r‖²)}`` with the
  default ``w_gpde = 1/σ_t²`` (σ_t = ``t_freq_std``), so the gradient penalty is effective.

The residual is computed in training when a PDE weight is > 0 and always in evaluation.
Departure from the previous version (and from a generic PINN): no random collocation points.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from torch import Tensor, nn

from baselines.common import node_inputs
from baselines.deeponet import (
    _DON_SIZES,
    _MP_SIZES,
    _NOMAD_SIZES,
    DeepONetBase,
    DeepONetConfig,
)
from roma_bench.data.batch import Batch
from roma_bench.models.base import ModelOutput
from roma_bench.models.roma.latent_pde import (
    LatentPDE,
    gradient_penalty_weight,
    pde_loss_terms,
    residual_wanted,
    supervised_points,
)
from roma_bench.models.roma.operator import (
    BoundOperator,
    FourierFeatures,
    LatentOperator,
    SharedPointsField,
)
from roma_bench.registry import register_model


class PIDeepONetConfig(DeepONetConfig):
    """DeepONet knobs plus the latent field and the latent-PDE loss."""

    latent_dim: int = Field(2, ge=1, description="d: latent coordinates y and field components u")
    coord_features: int = Field(32, ge=2, description="Fourier features of (t, y), even")
    t_freq_std: float = Field(1.0, gt=0, description="σ_t of the time frequencies")
    y_freq_std: float = Field(1.0, gt=0)
    pde: Literal["auto", "emergent", "burgers"] = Field(
        "auto", description="auto: emergent for kuramoto, burgers for social"
    )
    pde_width: int = Field(64, gt=0, description="hidden width of the right-hand-side trunk")
    pde_depth: int = Field(2, ge=1)
    w_pde: float = Field(1.0, ge=0)
    w_gpde: float = Field(
        -1.0, ge=-1, description="gradient penalty (−1: 1/t_freq_std², so w_gpde·σ_t² = 1)"
    )


class PhysicsInformedDeepONet(DeepONetBase):
    """A DeepONet-family branch + ROMA's latent operator head + ROMA's latent-PDE module."""

    Config = PIDeepONetConfig

    def branch_dim(self) -> int:
        return self.config.basis * self.config.latent_dim

    def representation_dim(self) -> int:
        """Width of the node representation ``z`` the PDE module is conditioned on."""
        return self.config.width if self.message_passing else self.branch_dim()

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
        self.latent_pde = LatentPDE(
            form,
            fourier,
            self.representation_dim(),
            c.basis,
            d,
            c.pde_width,
            c.pde_depth,
            self.nonlinear,
        )

    def represent(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Node representation ``z`` ``[n, c]`` and branch coefficients ``b`` ``[n, p·d]``."""
        inputs = node_inputs(batch)
        if not self.message_passing:
            coeffs = self.branch(inputs)
            return coeffs, coeffs
        tokens = self.attend(self.mp(batch.graph, self.embed(inputs)))
        return tokens, self.branch_out(tokens)

    def forward(self, batch: Batch) -> ModelOutput:
        z, coeffs = self.represent(batch)
        n, d, horizon = coeffs.shape[0], self.config.latent_dim, batch.horizon
        tx = supervised_points(n, horizon, d, coeffs.dtype, coeffs.device)
        coeffs_rep = coeffs.repeat_interleave(horizon, dim=0)
        # The trunk of a linear head sees (τ, y) alone: its jet runs on the H points once.
        field = (
            BoundOperator(self.operator, tx.new_zeros(tx.shape[0], 0), coeffs_rep)
            if self.nonlinear
            else SharedPointsField(self.operator, coeffs_rep, horizon)
        )
        c = self.config
        w_gpde = gradient_penalty_weight(c.w_gpde, c.t_freq_std)
        aux: dict[str, Tensor] = {}
        diagnostics: dict[str, Tensor] = {}
        if residual_wanted(self, c.w_pde, w_gpde):  # a loss, or the evaluation diagnostic
            result = self.latent_pde.residual(
                field, tx, z.repeat_interleave(horizon, dim=0), coeffs_rep, w_gpde > 0
            )
            u = result.derivatives.u
            aux, diagnostics = pde_loss_terms(result, c.w_pde, w_gpde)
        else:
            u = field(tx)
        increments = self.reduction(u).view(n, horizon)
        return ModelOutput(prediction=increments, aux_losses=aux, diagnostics=diagnostics)


def _pi_sizes(
    sizes: dict[str, dict[str, Any]], tiny_extra: dict[str, Any], base_extra: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """The forecast baseline's sizes plus the PDE module (tiny: 150k ± 10% in all)."""
    return {
        "tiny": {**sizes["tiny"], "latent_dim": 2, **tiny_extra},
        "base": {**sizes["base"], "latent_dim": 2, **base_extra},
    }


# Base sizes match ROMA-B (≈264M parameters) within 10% (tests/baselines/test_baseline_sizes.py).
@register_model("don-pi")
class DeepONetPI(PhysicsInformedDeepONet):
    """Physics-informed ``don``: residual-MLP branch, linear latent operator, latent-PDE loss."""

    SIZES = _pi_sizes(
        _DON_SIZES,
        {"width": 88, "pde_width": 32},
        {"depth": 14, "pde_width": 1024, "coord_features": 256},
    )


@register_model("don-mp-pi")
class DeepONetMPPI(PhysicsInformedDeepONet):
    """Physics-informed ``don-mp``: message passing + transformer branch, latent-PDE loss."""

    SIZES = _pi_sizes(
        _MP_SIZES, {"pde_width": 24}, {"depth": 7, "pde_width": 1024, "coord_features": 256}
    )
    message_passing = True


@register_model("nomad-mp-pi")
class NomadMPPI(PhysicsInformedDeepONet):
    """Physics-informed ``nomad-mp``: nonlinear latent operator, latent-PDE loss."""

    SIZES = _pi_sizes(
        _NOMAD_SIZES, {"pde_width": 24}, {"depth": 7, "pde_width": 1024, "coord_features": 256}
    )
    message_passing = True
    nonlinear = True
