"""The latent-PDE module every PDE-capable model shares (ROMA and the ``-pi`` baselines).

One class, :class:`LatentPDE`, holds the learned right-hand side of the latent PDE and
evaluates its residual (:func:`~.pde.pde_residual`) for a model's latent field ``u(t, y)``:

- emergent (Kuramoto): ``F = G([φ(t, y), z, u, ∇_y u, Δ_y u]; b)``, ``r = ∂_t u − F``;
- Burgers (social): ``(F, ν) = (G_F([φ, z]; b), softplus(G_ν([φ, z]; b)))``,
  ``r = ∂_t u + F·(u·∇_y)u − ν Δ_y u``;

with ``G`` a :class:`~.operator.LatentOperator` (DeepONet or NOMAD, like the model's own
decoder), ``φ`` the model's Fourier features of ``(t, y)``, ``z`` ``[N, c]`` the model's node
representation and ``b`` ``[N, p·d]`` its branch coefficients. Every model evaluates it at
the same points, :func:`supervised_points`: the supervised lead times ``τ_k = k``
(``k = 1…H``, in frames) at the node's own latent coordinate ``y = 0``. So ``pde_residual``
is one comparable column across models.

Gradient penalty: ``gpde = w_gpde·mean‖∇_(t,y) r‖²`` with the field's derivatives held
fixed, i.e. the explicit (t, y)-dependence of ``F``. ``∂φ/∂t`` scales with the spread
``σ_t`` of the time frequencies, so the penalty is only effective when
``w_gpde·σ_t² ≈ 1`` (the reference pairs ``w_gpde = 1e8`` with ``σ_t = 1e-4``);
:func:`gradient_penalty_weight` resolves the default (``w_gpde < 0``) to ``1/σ_t²``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from roma_bench.models.roma.operator import BoundOperator, FourierFeatures, LatentOperator
from roma_bench.models.roma.pde import FieldDerivatives, PDEForm, PDEResidual, pde_residual


def gradient_penalty_weight(w_gpde: float, t_freq_std: float) -> float:
    """``w_gpde`` if it is ≥ 0, else ``1/σ_t²`` so that ``w_gpde·σ_t² = 1``."""
    return float(w_gpde) if w_gpde >= 0 else 1.0 / float(t_freq_std) ** 2


def supervised_points(
    num_nodes: int, horizon: int, x_dim: int, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """``tx`` ``[n·H, 1 + d]``: rows ``(τ_k = k, y = 0)`` for each node (node-major), k = 1…H."""
    tx = torch.zeros(num_nodes * horizon, 1 + x_dim, dtype=dtype, device=device)
    tx[:, 0] = torch.arange(1, horizon + 1, dtype=dtype, device=device).repeat(num_nodes)
    return tx


class LatentPDE(nn.Module):
    """Learned right-hand side of the latent PDE and its residual (module docstring).

    ``cond_dim`` is the width of the model's node representation ``z``, ``p``/``x_dim`` the
    basis size and latent dimension of the branch coefficients ``b`` ``[N, p·x_dim]``.
    """

    def __init__(
        self,
        form: PDEForm,
        fourier: FourierFeatures,
        cond_dim: int,
        p: int,
        x_dim: int,
        width: int,
        layers: int,
        nonlinear: bool = False,
    ) -> None:
        super().__init__()
        if form not in ("emergent", "burgers"):
            raise ValueError(f"unknown PDE form {form!r}; expected 'emergent' or 'burgers'")
        self.form: PDEForm = form
        if form == "emergent":
            rhs_cond = cond_dim + x_dim + x_dim * x_dim + x_dim  # z, u, ∇u, Δu
            self.rhs = LatentOperator(fourier, rhs_cond, p, x_dim, x_dim, width, layers, nonlinear)
            self.viscosity = None
        else:
            self.rhs = LatentOperator(fourier, cond_dim, p, x_dim, 1, width, layers, nonlinear)
            self.viscosity = LatentOperator(
                fourier, cond_dim, p, x_dim, 1, width, layers, nonlinear
            )

    def right_hand_side(self, cond: Tensor, coeffs: Tensor) -> RightHandSide:
        """``F`` (or ``(F, ν)``) bound to the rows' representation ``[N, c]`` and ``b``."""
        return RightHandSide(self, cond, coeffs)

    def residual(
        self,
        field: BoundOperator,
        tx: Tensor,
        cond: Tensor,
        coeffs: Tensor,
        with_gradient: bool,
    ) -> PDEResidual:
        """Residual of the latent PDE for ``field`` at ``tx`` (rows aligned with cond, coeffs)."""
        return pde_residual(field, self.right_hand_side(cond, coeffs), tx, self.form, with_gradient)


def residual_wanted(model: nn.Module, w_pde: float, w_gpde: float) -> bool:
    """Whether ``model``'s forward computes the residual (one rule for every PDE model): in
    training when a PDE weight is > 0 (a loss term); in evaluation always (a diagnostic,
    so forecast-only runs report it too), except inside
    :func:`~roma_bench.models.base.forecasts_only`."""
    if model.training:
        return w_pde > 0 or w_gpde > 0
    return getattr(model, "wants_diagnostics", True)


def pde_loss_terms(
    result: PDEResidual, w_pde: float, w_gpde: float
) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """A residual's weighted aux losses and detached diagnostics (one rule for every model).

    ``pde_residual = mean r²`` is always a diagnostic; ``aux['pde'] = w_pde·mean r²`` when any
    PDE weight is on; with a gradient, ``aux['gpde'] = w_gpde·mean‖∇_(t,y) r‖²`` and the
    diagnostic ``pde_residual_grad``.
    """
    aux: dict[str, Tensor] = {}
    residual = result.residual.square().mean()
    diagnostics = {"pde_residual": residual.detach()}
    if w_pde > 0 or w_gpde > 0:
        aux["pde"] = w_pde * residual
    if result.gradient is not None:
        gradient = result.gradient.square().mean()
        aux["gpde"] = w_gpde * gradient
        diagnostics["pde_residual_grad"] = gradient.detach()
    return aux, diagnostics


class RightHandSide:
    """``F(t, y, z, u, ∇u, Δu)`` (emergent) or ``(F, ν)`` (Burgers) at given rows.

    ``jet`` also returns the derivatives along the axes of ``(t, y)`` with the field's
    derivatives held fixed (for the ``gpde`` term).
    """

    def __init__(self, pde: LatentPDE, cond: Tensor, coeffs: Tensor) -> None:
        self.pde, self.cond, self.coeffs = pde, cond, coeffs

    def _cond(self, d: FieldDerivatives) -> Tensor:
        if self.pde.viscosity is None:
            return torch.cat([self.cond, d.u, d.grad_y.flatten(1), d.lap_y], dim=-1)
        return self.cond

    def __call__(self, tx: Tensor, d: FieldDerivatives) -> Tensor | tuple[Tensor, Tensor]:
        pde, cond = self.pde, self._cond(d)
        if pde.viscosity is None:
            return pde.rhs(tx, cond, self.coeffs)
        return pde.rhs(tx, cond, self.coeffs), F.softplus(pde.viscosity(tx, cond, self.coeffs))

    def jet(self, tx: Tensor, d: FieldDerivatives) -> tuple[Any, Any]:
        pde, cond = self.pde, self._cond(d)
        value, tangent, _ = pde.rhs.jet(tx, cond, self.coeffs, order=1)
        if pde.viscosity is None:
            return value, tangent
        raw, raw_tangent, _ = pde.viscosity.jet(tx, cond, self.coeffs, order=1)
        return (value, F.softplus(raw)), (tangent, torch.sigmoid(raw) * raw_tangent)
