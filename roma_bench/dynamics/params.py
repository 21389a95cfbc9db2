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
    """Parameters of the Burgers-like social dynamics (activity u ≥ 0 on a core→periphery flow).

    Exact equations (see :class:`roma_bench.dynamics.social.SocialSystem`)::

        du_i/dt = c·[Σ_{j→i} f(u_j)/d⁺_j − b_i f(u_i)] − ν·(u_i − Σ_{j~i} u_j/d_j) − γ·u_i + s_i(t)

    with ``f(u) = u²/2`` (upwind: an edge j→i carries ``f(u_j)/d⁺_j`` from the more central
    j to the more peripheral i), ``d⁺_j`` the out-degree of j, ``d_j`` its degree,
    ``b_i = 1`` if i has an out-edge or ``outflow`` is set (else 0), and the smooth drive
    ``s_i(t) = a·Σ_k W_ik g_k(t)``: K external series ``g_k = logistic((z_k − θ)/β)`` of
    Gaussian processes z_k with time scale τ, mixed by a core-rooted matrix W spread by
    neighbour-message rounds (max row sum 1).
    """

    advection: float = Field(5.0, ge=0, description="c, scale of the upwind flux f(u)=u²/2")
    viscosity: float = Field(0.01, ge=0, description="ν, rate of random-walk Laplacian diffusion")
    dissipation: float = Field(0.05, ge=0, description="γ, linear decay rate of activity")
    drive_amplitude: float = Field(20.0, ge=0, description="a, the largest drive rate of a node")
    drive_series: int = Field(4, ge=1, le=64, description="K, external series mixed by W")
    drive_timescale: float = Field(2.0, gt=0, description="τ, correlation time of the series")
    drive_threshold: float = Field(1.0, description="θ, level of z_k where a burst is half on")
    drive_sharpness: float = Field(0.01, gt=0, description="β, width of the logistic switch")
    drive_core: float = Field(
        0.005, gt=0, le=1, description="fraction of nodes (smallest radius) fed by the series"
    )
    drive_rounds: int = Field(0, ge=0, le=64, description="neighbour-message rounds spreading W")
    initial_activity: float = Field(0.1, ge=0, description="mean of u(0) ~ Exponential")
    outflow: bool = Field(
        True, description="periphery nodes (no out-edge) emit c·f(u) out of the graph (open end)"
    )
