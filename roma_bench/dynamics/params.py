"""Validated parameters of the two systems, as they appear in a task card.

Kuramoto (DESIGN.md section 3)::

    dθ_i/dt = ω_i + K(t) Σ_j w_ij sin(θ_j − θ_i) + K_c(t) R_c sin(ψ_c(i) − θ_i)

with ``w_ij = sqrt(deg_j) / Σ_{k∈N(i)} sqrt(deg_k)`` (row-normalized), ``ω ~ N(0, σ_ω²)``
clipped at ±``omega_clip``·σ_ω and centred, ``θ(0) ~ theta0_std·N(0, 1)``, and

    K(t) = coupling · [ ((1 − burst_floor)|cos(burst_frequency·s)|^burst_sharpness + burst_floor)
                        · sin²(s) · (1 − envelope_floor) + envelope_floor ],   s = π·periods·t/T

(a slow sin² envelope over the run of length T with fast |cos|^b bursts). The
optional long-range term couples each node to its community's mean field
``R_c e^{iψ_c}`` with strength ``community_coupling · K(t)/coupling``.

Social (Burgers-like) dynamics: see :class:`SocialParams` and ``tasks/README.md``.
"""

from __future__ import annotations

from pydantic import Field

from roma_bench.config import StrictModel


class KuramotoParams(StrictModel):
    """Parameters of Kuramoto oscillators with a time-varying coupling K(t)."""

    coupling: float = Field(5.0, ge=0, description="peak coupling strength K")
    envelope_floor: float = Field(0.5, ge=0, le=1, description="a: K(t) ≥ a·K")
    burst_floor: float = Field(0.5, ge=0, le=1, description="d: floor of the fast bursts")
    burst_sharpness: float = Field(10.0, gt=0, description="b: exponent of |cos| bursts")
    burst_frequency: float = Field(10.0, ge=0, description="g: bursts per envelope period")
    periods: float = Field(1.0, gt=0, description="envelope half-periods over the run")
    omega_std: float = Field(1.0, gt=0, description="σ_ω of natural frequencies")
    omega_clip: float = Field(5.0, gt=0, description="clip ω at ±omega_clip·σ_ω")
    theta0_std: float = Field(5.0, ge=0, description="θ(0) ~ theta0_std·N(0,1)")
    community_coupling: float = Field(0.0, ge=0, description="long-range mean-field coupling")


class SocialParams(StrictModel):
    """Parameters of the Burgers-like social dynamics (activity u ≥ 0 on a directed core→periphery flow).

    ``du_i/dt = −advection·[Σ_{j→i} flux in − Σ_{i→k} flux out] − viscosity·(L u)_i + shocks_i(t)``
    with the upwind flux ``f(u) = u²/2`` on edges directed core→periphery; the exact
    form is documented in ``tasks/README.md``.
    """

    advection: float = Field(1.0, ge=0, description="scale of the upwind flux f(u)=u²/2")
    viscosity: float = Field(0.05, ge=0, description="ν, graph-Laplacian diffusion")
    shock_rate: float = Field(0.02, ge=0, description="shocks per node per unit time")
    shock_scale: float = Field(0.5, gt=0, description="minimum shock amplitude (Pareto scale)")
    shock_tail: float = Field(2.5, gt=1, description="Pareto tail exponent of shock amplitudes")
    shock_width: float = Field(0.05, gt=0, description="duration of a shock's injection")
    initial_activity: float = Field(0.1, ge=0, description="mean of the initial activity")
    dissipation: float = Field(0.05, ge=0, description="linear decay rate of activity")
