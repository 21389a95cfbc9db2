"""Kuramoto oscillators on a graph with a time-varying coupling K(t).

Equations (DESIGN.md section 3; parameters in :class:`~roma_bench.dynamics.params.KuramotoParams`)::

    dθ_i/dt = ω_i + K(t) Σ_j w_ij sin(θ_j − θ_i) + K_c(t) R_c(i) sin(ψ_c(i) − θ_i)

    w_ij   = sqrt(d_j) / Σ_{k→i} sqrt(d_k)              (edge j→i; rows sum to 1)
    K(t)   = K · k(t),   K_c(t) = community_coupling · k(t)
    k(t)   = ((1 − d)|cos(g s)|^b + d) · sin²(s) · (1 − a) + a,   s = π · periods · t / T
    R_c e^{iψ_c} = (1/|c|) Σ_{i∈c} e^{iθ_i}                (community mean field)

with ``d_j`` the degree of node j (its number of in-edges, equal to its degree in the
bidirected edge lists the graphs provide), ``a = envelope_floor``, ``b = burst_sharpness``,
``g = burst_frequency``, ``d = burst_floor`` and T the length of the run.
Natural frequencies ``ω ~ N(0, σ_ω²)`` are clipped at ±``omega_clip``·σ_ω and centred
(mean 0); initial phases ``θ(0) = theta0_std · N(0, 1)``. Both are drawn from independent
streams spawned from ``seed``.

The coupling is evaluated with two sparse products, never per-edge sines::

    S_i = Σ_j w_ij sin θ_j,   C_i = Σ_j w_ij cos θ_j,
    Σ_j w_ij sin(θ_j − θ_i) = S_i cos θ_i − C_i sin θ_i

so a right-hand side costs N sines + N cosines (torch's vectorized kernels, ~4× numpy's)
and two CSR mat-vecs over the E edges (memory-bound).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from roma_bench.dynamics.params import KuramotoParams

SINCOS_BLOCK = 16384
"""Elements per torch sin/cos call (see :meth:`KuramotoSystem._sincos`)."""


def coupling_profile(
    t: np.ndarray | float, params: KuramotoParams, total_time: float
) -> np.ndarray:
    """The normalized coupling ``k(t) = K(t)/K`` in ``[envelope_floor, 1]`` (see module docstring)."""
    s = np.pi * params.periods * np.asarray(t, dtype=np.float64) / total_time
    bursts = (1.0 - params.burst_floor) * np.abs(
        np.cos(params.burst_frequency * s)
    ) ** params.burst_sharpness
    bursts = bursts + params.burst_floor
    return bursts * np.sin(s) ** 2 * (1.0 - params.envelope_floor) + params.envelope_floor


def check_edges(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate an edge list ``src[E] → dst[E]`` of node ids in ``[0, num_nodes)``; return int64 copies."""
    if num_nodes <= 0:
        raise ValueError(f"num_nodes must be positive, got {num_nodes}")
    src = np.asarray(src)
    dst = np.asarray(dst)
    if src.ndim != 1 or src.shape != dst.shape:
        raise ValueError(
            f"src and dst must be 1-d of equal length, got {src.shape} and {dst.shape}"
        )
    if src.size and not (
        np.issubdtype(src.dtype, np.integer) and np.issubdtype(dst.dtype, np.integer)
    ):
        raise ValueError(f"edge ids must be integers, got {src.dtype} and {dst.dtype}")
    src = src.astype(np.int64, copy=False)
    dst = dst.astype(np.int64, copy=False)
    if src.size and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= num_nodes):
        raise ValueError(f"edge ids must lie in [0, {num_nodes}); got ids outside that range")
    return src, dst


class KuramotoSystem:
    """Kuramoto oscillators ``dθ/dt = ω + K(t)·coupling + K_c(t)·community term`` (module docstring).

    Parameters
    ----------
    src, dst : ``[E]`` int arrays, the bidirected edges ``src → dst`` (j → i sends θ_j to i).
    num_nodes : N.
    params : the card's :class:`KuramotoParams`.
    total_time : T = dt·steps, the run length that sets the envelope of K(t).
    seed : seeds ω and θ(0).
    communities : ``[N]`` int labels for the mean-field term (required when
        ``params.community_coupling > 0``).

    >>> import numpy as np
    >>> src, dst = np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1])
    >>> system = KuramotoSystem(src, dst, 3, KuramotoParams(), total_time=1.0, seed=0)
    >>> system.rhs(0.0, system.initial_state()).shape
    (3,)
    """

    name = "kuramoto"

    def __init__(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        num_nodes: int,
        params: KuramotoParams,
        total_time: float,
        seed: int,
        communities: np.ndarray | None = None,
    ) -> None:
        if not total_time > 0:
            raise ValueError(f"total_time must be positive, got {total_time}")
        src, dst = check_edges(src, dst, num_nodes)
        self.num_nodes = num_nodes
        self.params = params
        self.total_time = float(total_time)
        self.seed = seed

        degree = np.bincount(dst, minlength=num_nodes).astype(np.float64)
        sqrt_degree = np.sqrt(degree)
        row_norm = np.bincount(dst, weights=sqrt_degree[src], minlength=num_nodes)
        weights = sqrt_degree[src] / np.where(row_norm > 0, row_norm, 1.0)[dst]
        # Row i holds w_ij for its senders j; duplicates are summed (as a per-edge sum would).
        self.weights = sp.csr_matrix((weights, (dst, src)), shape=(num_nodes, num_nodes))
        self.degree = degree

        omega_stream, theta_stream = np.random.SeedSequence(seed).spawn(2)
        sigma = params.omega_std
        omega = np.random.default_rng(omega_stream).normal(0.0, sigma, num_nodes)
        omega = np.clip(omega, -params.omega_clip * sigma, params.omega_clip * sigma)
        self.omega = omega - omega.mean()
        theta0 = np.random.default_rng(theta_stream).normal(0.0, 1.0, num_nodes)
        self._theta0 = params.theta0_std * theta0

        self.communities: np.ndarray | None = None
        if communities is not None:
            labels = np.asarray(communities)
            if labels.shape != (num_nodes,):
                raise ValueError(f"communities must have shape ({num_nodes},), got {labels.shape}")
            _, self.communities = np.unique(labels, return_inverse=True)
            self._community_size = np.bincount(self.communities).astype(np.float64)
        elif params.community_coupling > 0:
            raise ValueError(
                "kuramoto.community_coupling > 0 needs community labels (graph ndata 'community')"
            )
        self._theta = np.empty(num_nodes)
        self._sin = np.empty(num_nodes)
        self._cos = np.empty(num_nodes)
        views = [torch.from_numpy(a) for a in (self._theta, self._sin, self._cos)]
        self._blocks = [
            tuple(v[start : start + SINCOS_BLOCK] for v in views)
            for start in range(0, num_nodes, SINCOS_BLOCK)
        ]

    def initial_state(self) -> np.ndarray:
        """``θ(0) = theta0_std·N(0, 1)`` ``[N]`` float64 (a fresh copy)."""
        return self._theta0.copy()

    def forecast_system(self, t0: float) -> KuramotoSystem:
        """The system a forecast from ``t0`` may use: this one. K(t) is a documented schedule
        of time (a model is given t), not an exogenous event, so the oracle may know it."""
        return self

    def coupling(self, t: float) -> float:
        """K(t) (module docstring)."""
        return float(self.params.coupling * coupling_profile(t, self.params, self.total_time))

    def community_strength(self, t: float) -> float:
        """K_c(t) = community_coupling · K(t)/K."""
        profile = coupling_profile(t, self.params, self.total_time)
        return float(self.params.community_coupling * profile)

    def max_stable_dt(self) -> float:
        """Largest RK4 step this module vouches for: ``1 / max(2(K + K_c), omega_clip·σ_ω)``.

        The coupling's Jacobian has Gershgorin discs within ``|λ| ≤ 2(K + K_c)`` and the
        fastest free rotation is ``omega_clip·σ_ω``; ``dt·|λ| ≤ 1`` keeps RK4 well inside
        its stability region and resolves every oscillator's rotation.
        """
        p = self.params
        rate = max(2.0 * (p.coupling + p.community_coupling), p.omega_clip * p.omega_std)
        return 1.0 / rate

    def _sincos(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``sin θ`` and ``cos θ`` ``[N]`` into reused buffers, with torch's vectorized kernels.

        Evaluated in fixed blocks of ``SINCOS_BLOCK`` elements (below torch's parallel grain,
        a multiple of every SIMD width), so each element takes the same SIMD-or-scalar path
        whatever the thread count: the values, and a resumed run, are bit-reproducible.
        """
        np.copyto(self._theta, theta)
        for theta_block, sin_block, cos_block in self._blocks:
            torch.sin(theta_block, out=sin_block)
            torch.cos(theta_block, out=cos_block)
        return self._sin, self._cos

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``dθ/dt`` ``[N]`` (a new array) at time ``t`` for phases ``y`` ``[N]`` float64."""
        theta = np.ascontiguousarray(y, dtype=np.float64)
        sin, cos = self._sincos(theta)
        sin_sum = self.weights @ sin  # S_i = Σ_j w_ij sin θ_j
        cos_sum = self.weights @ cos  # C_i = Σ_j w_ij cos θ_j
        # Σ_j w_ij sin(θ_j − θ_i) = S_i cos θ_i − C_i sin θ_i, built in place in sin_sum.
        sin_sum *= cos
        cos_sum *= sin
        sin_sum -= cos_sum
        sin_sum *= self.coupling(t)
        if self.communities is not None and self.params.community_coupling > 0:
            sin_sum += self.community_strength(t) * self._community_term(sin, cos)
        sin_sum += self.omega
        return sin_sum

    def _community_term(self, sin: np.ndarray, cos: np.ndarray) -> np.ndarray:
        """``R_c sin(ψ_c − θ_i) = Y_c cos θ_i − X_c sin θ_i`` with ``X_c + iY_c`` the mean phasor."""
        assert self.communities is not None
        labels = self.communities
        mean_cos = np.bincount(labels, weights=cos) / self._community_size
        mean_sin = np.bincount(labels, weights=sin) / self._community_size
        return mean_sin[labels] * cos - mean_cos[labels] * sin

    def check_state(self, step: int, y: np.ndarray) -> None:
        """Raise ``FloatingPointError`` naming the step if the phases are not all finite."""
        if not np.isfinite(y).all():
            raise FloatingPointError(
                f"kuramoto: non-finite phase at step {step}; lower simulation.dt "
                f"(stable up to {self.max_stable_dt():.3g})"
            )
