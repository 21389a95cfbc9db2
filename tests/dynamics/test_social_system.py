"""Burgers-like social dynamics: conservation, the smooth drive, the mass budget, travelling fronts."""

from __future__ import annotations

import numpy as np
import pytest

from roma_bench.dynamics.integrate import simulate
from roma_bench.dynamics.params import SocialParams
from roma_bench.dynamics.social import SocialSystem


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


QUIET = dict(drive_amplitude=0.0, dissipation=0.0, outflow=False)


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


def test_drive_is_deterministic_per_seed_and_smooth_in_time() -> None:
    src, dst, radius = tree_like_graph(200, 6)
    params = SocialParams(drive_sharpness=0.25, drive_timescale=1.0)
    a = SocialSystem(src, dst, 200, radius, params, 50.0, seed=9)
    b = SocialSystem(src, dst, 200, radius, params, 50.0, seed=9)
    c = SocialSystem(src, dst, 200, radius, params, 50.0, seed=10)
    times = np.linspace(0.0, 50.0, 5001)  # h = 0.01 = τ/100
    drive = np.stack([a.drive(t) for t in times])  # [T, N]
    np.testing.assert_array_equal(drive, np.stack([b.drive(t) for t in times]))
    np.testing.assert_array_equal(a.initial_state(), b.initial_state())
    assert not np.allclose(drive[::100], np.stack([c.drive(t) for t in times[::100]]))
    # Smooth: the second difference is O(h²·max|s''|) — tiny against the drive's range —
    # and the drive really varies (bursts switch on and off).
    span = drive.max() - drive.min()
    assert span > 0.5 * params.drive_amplitude
    assert np.abs(np.diff(drive, 2, axis=0)).max() < 1e-3 * span
    # Bounded: 0 ≤ s_i ≤ a, and only the core (smallest radius) is fed.
    assert drive.min() >= 0.0
    assert drive.max() <= params.drive_amplitude + 1e-12
    fed = np.flatnonzero(a.mixing.sum(1) > 0)
    assert fed.size == max(1, round(params.drive_core * 200))
    assert radius[fed].max() <= np.sort(radius)[fed.size - 1]


def test_neighbour_message_rounds_spread_the_mixing_matrix() -> None:
    src, dst, radius = tree_like_graph(200, 7)
    flat = SocialSystem(src, dst, 200, radius, SocialParams(drive_core=0.05), 10.0, seed=0)
    spread = SocialSystem(
        src, dst, 200, radius, SocialParams(drive_core=0.05, drive_rounds=3), 10.0, seed=0
    )
    assert (spread.mixing.sum(1) > 0).sum() > 2 * (flat.mixing.sum(1) > 0).sum()
    for system in (flat, spread):
        assert system.mixing.min() >= 0.0
        assert system.mixing.sum(1).max() == pytest.approx(1.0, rel=1e-12)


def test_held_drive_is_frozen_at_t0_and_shares_the_operators() -> None:
    src, dst, radius = tree_like_graph(100, 8)
    system = SocialSystem(src, dst, 100, radius, SocialParams(drive_sharpness=0.25), 20.0, seed=1)
    held = system.forecast_system(3.0)
    np.testing.assert_array_equal(held.drive(7.5), system.drive(3.0))
    assert not np.array_equal(system.drive(7.5), system.drive(3.0))
    assert system.held_at is None and held.transport is system.transport
    assert held.total_drive(9.0) == pytest.approx(system.drive(3.0).sum(), rel=1e-12)


class WithBudget:
    """The system augmented with ∫S dt (injected) and ∫(γM + outflow) dt (lost): [u, I, L]."""

    name = "social+budget"

    def __init__(self, system: SocialSystem) -> None:
        self.system = system

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        u = y[:-2]
        lost = self.system.params.dissipation * u.sum() + self.system.outflow_rate(u)
        return np.concatenate([self.system.rhs(t, u), [self.system.total_drive(t), lost]])


def test_mass_budget_closes_with_the_drive() -> None:
    """Σ_i du_i/dt = S(t) − γ·M − outflow exactly, so M(t) = M(0) + ∫S − ∫losses; RK4 keeps
    this linear invariant of the augmented system to round-off."""
    src, dst, radius = tree_like_graph(150, 2)
    params = SocialParams(dissipation=0.3, drive_core=0.1, drive_sharpness=0.25)
    system = SocialSystem(src, dst, 150, radius, params, 10.0, seed=2)
    rng = np.random.default_rng(0)
    for t in rng.uniform(0.0, 10.0, 10):
        u = rng.exponential(1.0, 150)
        expected = system.drive(t).sum() - 0.3 * u.sum() - system.outflow_rate(u)
        assert system.rhs(t, u).sum() == pytest.approx(expected, rel=1e-12, abs=1e-12)
        assert system.total_drive(t) == pytest.approx(system.drive(t).sum(), rel=1e-12)
    y0 = np.concatenate([system.initial_state(), [0.0, 0.0]])
    for _, _, y in simulate(WithBudget(system), y0, 0, 1000, 0.01, 100):
        budget = y0[:-2].sum() + y[-2] - y[-1]
        assert abs(y[:-2].sum() - budget) < 1e-11 * budget
    assert y[-2] > 5 * y0[:-2].sum()  # the drive dominates the budget


def test_activity_stays_non_negative_and_below_the_step_bound() -> None:
    src, dst, radius = tree_like_graph(300, 5)
    system = SocialSystem(src, dst, 300, radius, SocialParams(drive_core=0.05), 30.0, seed=5)
    dt = system.max_stable_dt()
    peak = 0.0
    for step, _, u in simulate(system, system.initial_state(), 0, int(30.0 / dt), dt, 10):
        system.check_state(step, u)
        assert u.min() >= 0.0
        peak = max(peak, float(u.max()))
    assert peak > 1.0  # bursts did hit
    assert peak < system.activity_bound()


def test_a_core_burst_reaches_downstream_nodes_later_as_a_steep_front() -> None:
    """On a path 0 → 1 → … driven only at node 0, the burst arrives at node 30 after node 10,
    and the arrival there is steeper (shorter rise time) than at node 10."""
    n = 60
    src, dst, radius = path_graph(n)
    params = SocialParams(advection=5.0, viscosity=0.001, dissipation=0.0, drive_core=1 / n)
    system = SocialSystem(src, dst, n, radius, params, 40.0, seed=3)
    assert np.flatnonzero(system.mixing.sum(1)).tolist() == [0]
    frames = np.stack([u for *_, u in simulate(system, np.zeros(n), 0, 8000, 0.005, 2)], 1)
    first = np.argmax(frames[0] > 0.5 * frames[0].max())

    def rise(node: int) -> tuple[int, int]:
        """(frame of half height, frames from 10% to 90% of the first peak) after ``first``."""
        series = frames[node, first:]
        peak = series.max()
        lo, half, hi = (int(np.argmax(series > q * peak)) for q in (0.1, 0.5, 0.9))
        return half, hi - lo

    (arrive_near, rise_near), (arrive_far, rise_far) = rise(10), rise(30)
    assert 0 < arrive_near < arrive_far  # core → periphery, in order
    assert rise_far < rise_near  # the front steepened on the way


def test_check_state_and_bad_input() -> None:
    src, dst, radius = path_graph(5)
    system = SocialSystem(src, dst, 5, radius, SocialParams(), 1.0, seed=0)
    with pytest.raises(FloatingPointError, match="node 3, step 7"):
        system.check_state(7, np.array([1.0, 1.0, 1.0, -0.5, 1.0]))
    with pytest.raises(FloatingPointError, match="non-finite"):
        system.check_state(7, np.array([1.0, np.nan, 1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="radius"):
        SocialSystem(src, dst, 5, radius[:3], SocialParams(), 1.0, seed=0)
    bound = system.activity_bound()
    assert bound == pytest.approx(system.initial_state().max() + 2 * np.sqrt(2 * 20.0 / 5.0))
    assert system.max_stable_dt(10.0) == pytest.approx(0.5 / (5.0 * 10.0 + 0.01 + 0.05))
