"""Burgers-like social dynamics: activity fronts travelling from the core to the periphery.

Activity ``u_i ≥ 0`` (parameters in :class:`~roma_bench.dynamics.params.SocialParams`)::

    du_i/dt = c·[ Σ_{j→i} f(u_j)/d⁺_j − b_i·f(u_i) ]          upwind advection, f(u) = u²/2
            + ν·[ Σ_{j~i} u_j/d_j − h_i·u_i ]                  random-walk Laplacian diffusion
            − γ·u_i                                           dissipation
            + s_i(t)                                          exogenous drive

* Flow: each undirected edge {j, i} is directed j → i from the smaller to the larger
  hyperbolic radius (ties broken by node id), so it carries activity core → periphery.
  ``d⁺_j`` is j's number of out-edges; the upwind flux ``c·f(u_j)/d⁺_j`` leaves j and
  enters i (conservative). ``b_i = 1`` if i has an out-edge, or if ``outflow`` is set;
  periphery nodes with no out-edge then emit ``c·f(u_i)`` out of the graph (an open end,
  as at the outlet of a Burgers pipe); with ``outflow: false`` the flow ends there.
  On a path 0 → 1 → … this is the upwind scheme for ``u_t + c(u²/2)_x = 0`` with dx = 1:
  a pulse steepens into a front whose speed grows with its height.
* Diffusion: ``d_j`` is j's degree; each node sends ``ν·u_j/d_j`` per unit time to each
  neighbour (``h_i = 1`` if i has a neighbour). The operator is ``−ν·L D⁻¹`` with L the
  combinatorial Laplacian: it conserves Σu and its spectrum lies in ``[−2ν, 0]`` whatever
  the hub degrees, so the stable step does not shrink with the graph.
* Drive: ``s_i(t) = a·Σ_k W_ik g_k(t)`` with K = ``drive_series`` smooth external series

      z_k(t) = √(2/M) Σ_m cos(ω_km·t + φ_km),   ω_km ~ N(0, 1/τ²),  φ_km ~ U[0, 2π),
      g_k(t) = logistic((z_k(t) − θ)/β) ∈ (0, 1)

  (M = :data:`DRIVE_MODES` random Fourier modes: z_k is a stationary Gaussian process with
  unit variance and covariance ``exp(−s²/2τ²)`` — Gaussian-smoothed white noise —
  evaluable at any t; θ = ``drive_threshold``, β = ``drive_sharpness``, so each g_k is a
  train of smooth bursts of duration ~τ = ``drive_timescale``). The mixing matrix
  ``W [N, K]`` is built once: the ``drive_core`` fraction of nodes with the smallest radius
  get i.i.d. Exp(1) weights (the others 0), then ``drive_rounds`` rounds of neighbour
  messages ``W ← (W + D⁻¹A·W)/2`` spread them to neighbours, then W is divided by
  ``max_i Σ_k W_ik`` so every node's drive lies in ``[0, a]``. Evaluating s(t) costs
  O(K·M + N·K).
* Initial state: ``u_i(0) = initial_activity · Exp(1)``.

Everything random (u(0), the Fourier modes, W) is drawn from ``seed`` at construction, so the
right-hand side is a deterministic function of t and u.

Balance: with ``M(t) = Σ_i u_i``, ``dM/dt = S(t) − γ·M − c·Σ_{i: d⁺_i = 0} b_i f(u_i)`` where
``S(t) = Σ_i s_i(t)`` (:meth:`SocialSystem.total_drive`); advection and diffusion conserve M.

Stability and non-negativity: every loss of node i is proportional to ``u_i`` and every
gain is ≥ 0, so the exact flow keeps ``u ≥ 0``. The Jacobian's Gershgorin discs lie in
``|λ + c·u_i + ν + γ| ≤ c·u_i + ν``; the step is vouched for (RK4 stable, stages
non-negative in practice) when ``dt·(c·U + ν + γ) ≤ 1/2`` with U a bound on the activity;
:meth:`SocialSystem.max_stable_dt` uses ``U = max u(0) + 2·√(2a/c)`` (twice the height at
which a driven node's outflux ``c·u²/2`` balances the largest drive a; ``a/(ν + γ)`` when
c = 0). :meth:`SocialSystem.check_state` enforces ``u ≥ 0`` on the saved frames.

The forecast oracle does not know the future drive: :meth:`SocialSystem.with_drive_held`
returns the same system with ``s(t) = s(t0)`` for all t.
"""

from __future__ import annotations

import copy

import numpy as np
import scipy.sparse as sp

from roma_bench.dynamics.kuramoto import check_edges
from roma_bench.dynamics.params import SocialParams

STABILITY_SAFETY = 0.5
"""``dt·(c·U + ν + γ)`` allowed by :meth:`SocialSystem.max_stable_dt`."""

DRIVE_MODES = 32
"""M, random Fourier modes per external series."""


class SocialSystem:
    """Burgers-like activity ``u ≥ 0`` advected core → periphery (equations in the module docstring).

    Parameters
    ----------
    src, dst : ``[E]`` int arrays, the bidirected edges of the graph.
    num_nodes : N.
    radius : ``[N]`` hyperbolic radii; flow goes from smaller to larger radius.
    params : the card's :class:`SocialParams`.
    total_time : T = dt·steps, the length of the run (checked positive).
    seed : seeds u(0), the external series and the mixing matrix.

    >>> import numpy as np
    >>> src, dst = np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1])
    >>> system = SocialSystem(src, dst, 3, np.arange(3.0), SocialParams(), 10.0, seed=0)
    >>> bool((system.rhs(0.0, system.initial_state()) > -1).all())
    True
    """

    name = "social"

    def __init__(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        num_nodes: int,
        radius: np.ndarray,
        params: SocialParams,
        total_time: float,
        seed: int,
    ) -> None:
        if not total_time > 0:
            raise ValueError(f"total_time must be positive, got {total_time}")
        src, dst = check_edges(src, dst, num_nodes)
        radius = np.asarray(radius, dtype=np.float64)
        if radius.shape != (num_nodes,):
            raise ValueError(f"radius must have shape ({num_nodes},), got {radius.shape}")
        if not np.isfinite(radius).all():
            raise ValueError("radius must be finite")
        self.num_nodes = num_nodes
        self.params = params
        self.total_time = float(total_time)
        self.seed = seed
        self.held_at: float | None = None
        shape = (num_nodes, num_nodes)

        keep = src != dst  # self-loops neither flow nor diffuse
        src, dst = src[keep], dst[keep]
        # Diffusion: column j of ν·A·D⁻¹ spreads u_j equally over j's d_j neighbours.
        degree = np.bincount(src, minlength=num_nodes).astype(np.float64)
        self.diffusion = sp.csr_matrix(
            (1.0 / degree[src], (dst, src)), shape=shape
        )  # [N, N], columns sum to 1 (or 0 for isolated nodes)
        self.has_neighbour = degree > 0

        # Advection: keep each undirected edge once, oriented core → periphery.
        outward = (radius[src] < radius[dst]) | ((radius[src] == radius[dst]) & (src < dst))
        up, down = src[outward], dst[outward]
        out_degree = np.bincount(up, minlength=num_nodes).astype(np.float64)
        self.transport = sp.csr_matrix((1.0 / out_degree[up], (down, up)), shape=shape)
        self.out_degree = out_degree
        self.emits = (out_degree > 0) | params.outflow  # b_i

        initial_stream, series_stream, mixing_stream = np.random.SeedSequence(seed).spawn(3)
        rng = np.random.default_rng(initial_stream)
        self._initial = params.initial_activity * rng.exponential(1.0, num_nodes)
        self._draw_series(np.random.default_rng(series_stream))
        self.mixing = self._mixing_matrix(radius, np.random.default_rng(mixing_stream))
        self._mixing_total = self.mixing.sum(axis=0)  # [K], Σ_i W_ik

        # Linear loss rate per node: ν·h_i + γ.
        self._linear_loss = params.viscosity * self.has_neighbour + params.dissipation
        self._advect_loss = params.advection * self.emits.astype(np.float64)

    # ------------------------------------------------------------------ drive
    def _draw_series(self, rng: np.random.Generator) -> None:
        """Random Fourier modes of the K external series: ``ω, φ`` ``[K, M]``."""
        shape = (self.params.drive_series, DRIVE_MODES)
        self.series_frequency = rng.normal(0.0, 1.0 / self.params.drive_timescale, shape)
        self.series_phase = rng.uniform(0.0, 2.0 * np.pi, shape)

    def _mixing_matrix(self, radius: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``W [N, K]``: Exp(1) weights on the core nodes, neighbour-message rounds, max row sum 1."""
        p = self.params
        n, k = self.num_nodes, p.drive_series
        weights = np.zeros((n, k))
        if n == 0:
            return weights
        core = max(1, round(p.drive_core * n))
        core_nodes = np.argsort(radius, kind="stable")[:core]
        weights[core_nodes] = rng.exponential(1.0, (core, k))
        # Row-normalized adjacency D⁻¹A: the transpose of the column-normalized diffusion.
        mean_of_neighbours = self.diffusion.T.tocsr()
        for _ in range(p.drive_rounds):
            weights = 0.5 * (weights + mean_of_neighbours @ weights)
        return weights / weights.sum(axis=1).max()

    def series(self, t: float) -> np.ndarray:
        """``g(t)`` ``[K]``: the external series, each a logistic of a smooth Gaussian process."""
        p = self.params
        z = np.sqrt(2.0 / DRIVE_MODES) * np.cos(self.series_frequency * t + self.series_phase).sum(
            axis=1
        )
        return 0.5 * (1.0 + np.tanh(0.5 * (z - p.drive_threshold) / p.drive_sharpness))

    def drive(self, t: float) -> np.ndarray:
        """``s(t) = a·W g(t)`` ``[N]`` (``s(t0)`` at every t once the drive is held)."""
        at = t if self.held_at is None else self.held_at
        return self.params.drive_amplitude * (self.mixing @ self.series(at))

    def total_drive(self, t: float) -> float:
        """``S(t) = Σ_i s_i(t) = a·Σ_k (Σ_i W_ik) g_k(t)``."""
        at = t if self.held_at is None else self.held_at
        return float(self.params.drive_amplitude * (self._mixing_total @ self.series(at)))

    def with_drive_held(self, t0: float) -> SocialSystem:
        """This system with the drive frozen at ``s(t0)`` (shares the operators; no future input)."""
        held = copy.copy(self)
        held.held_at = float(t0)
        return held

    def forecast_system(self, t0: float) -> SocialSystem:
        """The system a forecast from ``t0`` may use: the drive held at ``s(t0)``."""
        return self.with_drive_held(t0)

    # ------------------------------------------------------------------ dynamics
    def initial_state(self) -> np.ndarray:
        """``u(0) = initial_activity·Exp(1)`` ``[N]`` float64 (a fresh copy)."""
        return self._initial.copy()

    def outflow_rate(self, y: np.ndarray) -> float:
        """Activity leaving through the open periphery per unit time: ``c·Σ_{d⁺_i=0} b_i f(u_i)``."""
        sinks = self.emits & (self.out_degree == 0)
        return float(self.params.advection * 0.5 * np.sum(y[sinks] ** 2))

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``du/dt`` ``[N]`` (a new array) at time ``t`` for activity ``y`` ``[N]`` float64."""
        u = np.ascontiguousarray(y, dtype=np.float64)
        flux = 0.5 * u * u  # f(u)
        out = self.transport @ flux
        out *= self.params.advection
        out += self.params.viscosity * (self.diffusion @ u)
        flux *= self._advect_loss
        out -= flux
        out -= self._linear_loss * u
        out += self.drive(t)
        return out

    def activity_bound(self) -> float:
        """The activity scale U of the step bound: ``max u(0) + 2·√(2a/c)`` (``a/(ν+γ)`` if c = 0)."""
        p = self.params
        initial_max = float(self._initial.max()) if self.num_nodes else 0.0
        if p.advection > 0:
            return initial_max + 2.0 * np.sqrt(2.0 * p.drive_amplitude / p.advection)
        loss = p.viscosity + p.dissipation
        return initial_max + (p.drive_amplitude / loss if loss > 0 else 0.0)

    def max_stable_dt(self, activity_bound: float | None = None) -> float:
        """``dt_max = 1/2 / (c·U + ν + γ)`` with ``U = activity_bound`` (default :meth:`activity_bound`)."""
        p = self.params
        bound = self.activity_bound() if activity_bound is None else float(activity_bound)
        rate = p.advection * bound + p.viscosity + p.dissipation
        return STABILITY_SAFETY / rate if rate > 0 else float("inf")

    def check_state(self, step: int, y: np.ndarray, tolerance: float = 1e-9) -> None:
        """Raise ``FloatingPointError`` if the activity is non-finite or below ``−tolerance·max(1, max u)``."""
        if not np.isfinite(y).all():
            raise FloatingPointError(
                f"social: non-finite activity at step {step}; lower simulation.dt "
                f"(vouched for up to {self.max_stable_dt():.3g})"
            )
        low = float(y.min()) if y.size else 0.0
        if low < -tolerance * max(1.0, float(y.max())):
            node = int(np.argmin(y))
            raise FloatingPointError(
                f"social: activity {low:.3g} < 0 at node {node}, step {step}; lower simulation.dt "
                f"(vouched for up to {self.max_stable_dt():.3g})"
            )
