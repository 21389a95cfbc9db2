"""Burgers-like social dynamics: activity flowing from the core to the periphery of a graph.

Activity ``u_i ≥ 0`` (parameters in :class:`~roma_bench.dynamics.params.SocialParams`)::

    du_i/dt = c·[ Σ_{j→i} f(u_j)/d⁺_j − b_i·f(u_i) ]          upwind advection, f(u) = u²/2
            + ν·[ Σ_{j~i} u_j/d_j − h_i·u_i ]                  random-walk Laplacian diffusion
            − γ·u_i                                           dissipation
            + s_i(t)                                          exogenous shocks

* Flow: each undirected edge {j, i} is directed j → i from the smaller to the larger
  hyperbolic radius (ties broken by node id), so it carries activity core → periphery.
  ``d⁺_j`` is j's number of out-edges; the upwind flux ``c·f(u_j)/d⁺_j`` leaves j and
  enters i (conservative). ``b_i = 1`` if i has an out-edge, or if ``outflow`` is set;
  periphery nodes with no out-edge then emit ``c·f(u_i)`` out of the graph (an open end,
  as at the outlet of a Burgers pipe); with ``outflow: false`` the flow ends there.
  On a path 0 → 1 → … this is the upwind scheme for ``u_t + c(u²/2)_x = 0`` with dx = 1.
* Diffusion: ``d_j`` is j's degree; each node sends ``ν·u_j/d_j`` per unit time to each
  neighbour (``h_i = 1`` if i has a neighbour). The operator is ``−ν·L D⁻¹`` with L the
  combinatorial Laplacian: it conserves Σu and its spectrum lies in ``[−2ν, 0]`` whatever
  the hub degrees, so the stable step does not shrink with the graph.
* Shocks: a compound Poisson process, drawn once from ``seed`` at construction (so the
  right-hand side is a deterministic function of t): event count ~ Poisson(rate·N·T),
  start times t₀ ~ U[0, T), nodes ~ U{0..N−1}, amounts ``A`` truncated Pareto on
  ``[shock_scale, shock_max]`` with tail ``shock_tail`` (``P(A > a) ∝ a^−tail``). An event
  injects ``(2A/w)·sin²(π(t − t₀)/w)`` over ``t₀ ≤ t < t₀ + w`` (``w = shock_width``):
  a smooth pulse of total amount exactly A.
* Initial state: ``u_i(0) = initial_activity · Exp(1)``.

Balance: with ``M(t) = Σ_i u_i``, ``dM/dt = S(t) − γ·M − c·Σ_{i: d⁺_i = 0} b_i f(u_i)`` where
``S(t) = Σ_i s_i(t)`` (:meth:`SocialSystem.injected_mass` integrates it); advection and
diffusion conserve M exactly.

Stability and non-negativity: every loss of node i is proportional to ``u_i`` and every
gain is ≥ 0, so the exact flow keeps ``u ≥ 0``. The Jacobian's Gershgorin discs lie in
``|λ + c·u_i + ν + γ| ≤ c·u_i + ν``; the step is vouched for (RK4 stable, stages
non-negative in practice) when ``dt·(c·U + ν + γ) ≤ 1/2`` with U a bound on the
activity; :meth:`SocialSystem.max_stable_dt` uses ``U = max u(0) + 2·shock_max``.
:meth:`SocialSystem.check_state` enforces ``u ≥ 0`` on the saved frames.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from roma_bench.dynamics.kuramoto import check_edges
from roma_bench.dynamics.params import SocialParams

STABILITY_SAFETY = 0.5
"""``dt·(c·U + ν + γ)`` allowed by :meth:`SocialSystem.max_stable_dt`."""


def truncated_pareto(
    rng: np.random.Generator, size: int, scale: float, tail: float, cap: float
) -> np.ndarray:
    """``[size]`` draws with ``P(A > a) = (a^−tail − cap^−tail)/(scale^−tail − cap^−tail)``."""
    uniform = rng.random(size)
    mass = 1.0 - (scale / cap) ** tail
    return scale * (1.0 - uniform * mass) ** (-1.0 / tail)


class SocialSystem:
    """Burgers-like activity ``u ≥ 0`` advected core → periphery (equations in the module docstring).

    Parameters
    ----------
    src, dst : ``[E]`` int arrays, the bidirected edges of the graph.
    num_nodes : N.
    radius : ``[N]`` hyperbolic radii; flow goes from smaller to larger radius.
    params : the card's :class:`SocialParams`.
    total_time : T = dt·steps; shocks start in ``[0, T)``.
    seed : seeds u(0) and the shocks.

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

        initial_stream, shock_stream = np.random.SeedSequence(seed).spawn(2)
        rng = np.random.default_rng(initial_stream)
        self._initial = params.initial_activity * rng.exponential(1.0, num_nodes)
        self._draw_shocks(np.random.default_rng(shock_stream))

        # Linear loss rate per node: ν·h_i + γ.
        self._linear_loss = params.viscosity * self.has_neighbour + params.dissipation
        self._advect_loss = params.advection * self.emits.astype(np.float64)

    def _draw_shocks(self, rng: np.random.Generator) -> None:
        """Precompute the compound Poisson shocks (sorted by start time)."""
        p = self.params
        count = int(rng.poisson(p.shock_rate * self.num_nodes * self.total_time))
        starts = np.sort(rng.uniform(0.0, self.total_time, count))
        self.shock_start = starts  # [S]
        self.shock_node = rng.integers(0, self.num_nodes, count)  # [S]
        self.shock_amount = truncated_pareto(rng, count, p.shock_scale, p.shock_tail, p.shock_max)

    def initial_state(self) -> np.ndarray:
        """``u(0) = initial_activity·Exp(1)`` ``[N]`` float64 (a fresh copy)."""
        return self._initial.copy()

    def forcing(self, t: float) -> np.ndarray:
        """``s(t)`` ``[N]``: the summed pulses ``(2A/w)·sin²(π(t − t₀)/w)`` of the active shocks."""
        out = np.zeros(self.num_nodes)
        self._add_forcing(t, out)
        return out

    def _add_forcing(self, t: float, out: np.ndarray) -> None:
        width = self.params.shock_width
        lo = np.searchsorted(self.shock_start, t - width, side="right")
        hi = np.searchsorted(self.shock_start, t, side="right")
        if hi > lo:
            phase = np.pi * (t - self.shock_start[lo:hi]) / width
            pulse = (2.0 / width) * self.shock_amount[lo:hi] * np.sin(phase) ** 2
            np.add.at(out, self.shock_node[lo:hi], pulse)

    def injected_mass(self, t: float) -> float:
        """``∫₀ᵗ Σ_i s_i dτ = Σ_events A·F(clip((t − t₀)/w, 0, 1))``, ``F(x) = x − sin(2πx)/(2π)``."""
        x = np.clip((t - self.shock_start) / self.params.shock_width, 0.0, 1.0)
        return float(np.sum(self.shock_amount * (x - np.sin(2.0 * np.pi * x) / (2.0 * np.pi))))

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
        self._add_forcing(t, out)
        return out

    def activity_bound(self) -> float:
        """The activity scale U used for the step bound: ``max u(0) + 2·shock_max``."""
        initial_max = float(self._initial.max()) if self.num_nodes else 0.0
        return initial_max + 2.0 * self.params.shock_max

    def max_stable_dt(self, activity_bound: float | None = None) -> float:
        """``dt_max = 1/2 / (c·U + ν + γ)`` with ``U = activity_bound`` (default :meth:`activity_bound`)."""
        p = self.params
        bound = self.activity_bound() if activity_bound is None else float(activity_bound)
        return STABILITY_SAFETY / (p.advection * bound + p.viscosity + p.dissipation)

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
