"""Burgers-like social dynamics: conservation, balance with forcing, non-negativity, shocks."""

from __future__ import annotations

import numpy as np
import pytest

from roma_bench.dynamics.integrate import simulate
from roma_bench.dynamics.params import SocialParams
from roma_bench.dynamics.social import SocialSystem, truncated_pareto


def tree_like_graph(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A connected hierarchical graph: node k > 0 links to 1–2 earlier nodes; radius grows with k."""
    rng = np.random.default_rng(seed)
    pairs = set()
    for k in range(1, n):
        for parent in rng.integers(0, k, 1 + int(rng.random() < 0.5)):
            pairs.add((int(parent), k))
    und = np.array(sorted(pairs)).T
    radius = np.log1p(np.arange(n)) + 0.01 * rng.random(n)
    return np.concatenate([und[0], und[1]]), np.concatenate([und[1], und[0]]), radius


def path_graph(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = np.arange(n - 1)
    return np.concatenate([a, a + 1]), np.concatenate([a + 1, a]), np.arange(n, dtype=float)


QUIET = dict(shock_rate=0.0, dissipation=0.0, outflow=False)


def test_operators_are_conservative_and_oriented_outward() -> None:
    src, dst, radius = tree_like_graph(80, 0)
    system = SocialSystem(src, dst, 80, radius, SocialParams(), 10.0, seed=0)
    transport = system.transport.tocoo()
    assert (radius[transport.col] < radius[transport.row]).all()  # j → i only outward
    has_out = system.out_degree > 0
    np.testing.assert_allclose(
        np.asarray(system.transport.sum(0)).ravel()[has_out], 1.0, atol=1e-14
    )
    np.testing.assert_allclose(np.asarray(system.diffusion.sum(0)).ravel(), 1.0, atol=1e-14)
    assert system.transport.nnz == src.size // 2  # every undirected edge once


def test_closed_graph_conserves_total_activity() -> None:
    src, dst, radius = tree_like_graph(120, 1)
    system = SocialSystem(src, dst, 120, radius, SocialParams(**QUIET), 50.0, seed=1)
    u0 = system.initial_state() * 20.0  # strong advection
    total0 = u0.sum()
    for _, _, u in simulate(system, u0, 0, 2000, 0.02, 200):
        assert abs(u.sum() - total0) < 1e-12 * total0
    assert np.abs(u - u0).max() > 0.1 * u0.max()  # it did move


def test_rhs_balance_identity() -> None:
    """Σ_i du_i/dt = S(t) − γ·M − (outflow at the periphery), exactly, for any state."""
    src, dst, radius = tree_like_graph(150, 2)
    params = SocialParams(shock_rate=2.0, dissipation=0.3, outflow=True, shock_width=0.5)
    system = SocialSystem(src, dst, 150, radius, params, 5.0, seed=2)
    rng = np.random.default_rng(0)
    for t in rng.uniform(0.0, 5.0, 10):
        u = rng.exponential(1.0, 150)
        expected = system.forcing(t).sum() - 0.3 * u.sum() - system.outflow_rate(u)
        assert system.rhs(t, u).sum() == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert system.forcing(t).sum() > 0 or t > 0  # shocks are active (rate·N·w ≫ 1)


def test_forcing_integrates_to_injected_mass() -> None:
    src, dst, radius = tree_like_graph(50, 3)
    params = SocialParams(shock_rate=0.5, shock_width=0.2)
    system = SocialSystem(src, dst, 50, radius, params, 4.0, seed=3)
    assert system.shock_amount.size > 20
    t = np.linspace(0.0, 4.3, 4301)
    rates = np.array([system.forcing(s).sum() for s in t])
    quad = np.sum((rates[1:] + rates[:-1]) * np.diff(t)) / 2  # trapezoid, h = w/200
    assert quad == pytest.approx(system.injected_mass(4.3), rel=1e-4)
    assert system.injected_mass(2.0) == pytest.approx(quad_until(t, rates, 2.0), rel=1e-3)
    assert system.injected_mass(4.3) == pytest.approx(system.shock_amount.sum(), rel=1e-12)


def quad_until(t: np.ndarray, rates: np.ndarray, stop: float) -> float:
    keep = t <= stop
    return float(np.sum((rates[keep][1:] + rates[keep][:-1]) * np.diff(t[keep])) / 2)


class WithLosses:
    """The system augmented with the accumulated losses D' = γ·M + outflow, state [u, D]."""

    name = "social+losses"

    def __init__(self, system: SocialSystem) -> None:
        self.system = system

    def initial_state(self) -> np.ndarray:
        return np.append(self.system.initial_state(), 0.0)

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        u = y[:-1]
        lost = self.system.params.dissipation * u.sum() + self.system.outflow_rate(u)
        return np.append(self.system.rhs(t, u), lost)


def test_total_activity_equals_initial_plus_injected_minus_lost() -> None:
    """M(t) = M(0) + injected(t) − lost(t); RK4 integrates the pulses by Simpson's rule, so
    the gap is the quadrature error of the pulses' kinks: small, and O(dt³) as dt halves."""
    src, dst, radius = tree_like_graph(100, 4)
    params = SocialParams(shock_rate=0.4, dissipation=0.1, outflow=True, shock_width=0.1)
    system = SocialSystem(src, dst, 100, radius, params, 10.0, seed=4)
    augmented = WithLosses(system)
    y0 = augmented.initial_state()
    total0 = y0[:-1].sum()

    def worst_gap(dt: float) -> float:
        gaps = []
        for _, t, y in simulate(augmented, y0, 0, round(10.0 / dt), dt, round(1.0 / dt)):
            budget = total0 + system.injected_mass(t) - y[-1]
            gaps.append(abs(y[:-1].sum() - budget) / budget)
        return max(gaps)

    coarse, fine = worst_gap(0.02), worst_gap(0.01)  # measured: 2.9e-5, 4.3e-6
    assert coarse < 1e-4
    assert fine < coarse / 4
    assert system.injected_mass(10.0) > 5 * total0  # the forcing dominates the budget


def test_activity_stays_non_negative_with_heavy_shocks() -> None:
    src, dst, radius = tree_like_graph(300, 5)
    params = SocialParams(shock_rate=0.3, shock_scale=1.0, shock_tail=1.5, shock_max=20.0)
    system = SocialSystem(src, dst, 300, radius, params, 30.0, seed=5)
    dt = system.max_stable_dt()
    steps = int(30.0 / dt)
    peak = 0.0
    for step, _, u in simulate(system, system.initial_state(), 0, steps, dt, 10):
        system.check_state(step, u)
        assert u.min() >= 0.0
        peak = max(peak, float(u.max()))
    assert peak > 5.0  # big shocks did hit
    assert peak < system.activity_bound()


def test_smooth_bump_steepens_into_a_shock() -> None:
    n = 200
    src, dst, radius = path_graph(n)
    params = SocialParams(advection=1.0, viscosity=0.002, **{**QUIET, "outflow": True})
    system = SocialSystem(src, dst, n, radius, params, 30.0, seed=0)
    x = np.arange(n, dtype=float)
    u0 = 0.2 + 2.0 * np.exp(-(((x - 36.0) / 12.0) ** 2))
    grad0 = np.diff(u0)
    *_, (_, _, u) = simulate(system, u0, 0, 1500, 0.01, 1500)  # t = 15 > breaking time ≈ 7
    grad = np.diff(u)
    assert -grad.min() > 3.0 * -grad0.min()  # the front (downstream side) steepened
    assert -grad.min() > 8.0 * grad.max()  # ...and is much steeper than the rarefaction behind
    assert np.argmax(u) > 50  # the bump moved downstream (core → periphery)
    assert u.min() >= 0.0


def test_shocks_reproducible_and_in_range() -> None:
    src, dst, radius = tree_like_graph(100, 6)
    params = SocialParams(shock_rate=0.1, shock_scale=0.5, shock_max=4.0)
    a = SocialSystem(src, dst, 100, radius, params, 50.0, seed=9)
    b = SocialSystem(src, dst, 100, radius, params, 50.0, seed=9)
    c = SocialSystem(src, dst, 100, radius, params, 50.0, seed=10)
    np.testing.assert_array_equal(a.shock_amount, b.shock_amount)
    np.testing.assert_array_equal(a.initial_state(), b.initial_state())
    assert not np.array_equal(a.initial_state(), c.initial_state())
    assert abs(a.shock_amount.size - 500) < 5 * np.sqrt(500)
    assert a.shock_amount.min() >= 0.5 and a.shock_amount.max() <= 4.0
    assert (np.diff(a.shock_start) >= 0).all()


def test_truncated_pareto_tail() -> None:
    draws = truncated_pareto(np.random.default_rng(0), 200_000, 1.0, 2.0, 10.0)
    for level in (2.0, 5.0):
        expected = (level**-2 - 10.0**-2) / (1.0 - 10.0**-2)
        assert np.mean(draws > level) == pytest.approx(expected, rel=0.03)


def test_check_state_and_bad_input() -> None:
    src, dst, radius = path_graph(5)
    system = SocialSystem(src, dst, 5, radius, SocialParams(), 1.0, seed=0)
    with pytest.raises(FloatingPointError, match="node 3, step 7"):
        system.check_state(7, np.array([1.0, 1.0, 1.0, -0.5, 1.0]))
    with pytest.raises(FloatingPointError, match="non-finite"):
        system.check_state(7, np.array([1.0, np.nan, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="radius"):
        SocialSystem(src, dst, 5, radius[:3], SocialParams(), 1.0, seed=0)
    with pytest.raises(ValueError, match="shock_max"):
        SocialParams(shock_scale=2.0, shock_max=1.0)
    assert system.max_stable_dt(10.0) == pytest.approx(0.5 / (10.0 + 0.05 + 0.05))
