"""Kuramoto simulator: right-hand side against a per-edge reference, exact solutions, sync."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roma_bench.dynamics.integrate import simulate
from roma_bench.dynamics.kuramoto import KuramotoSystem, coupling_profile
from roma_bench.dynamics.params import KuramotoParams


def random_graph(n: int, edges: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A simple undirected graph as a bidirected edge list (no self-loops or duplicates)."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < edges:
        a, b = (int(v) for v in rng.integers(0, n, 2))
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    und = np.array(sorted(pairs)).T
    return np.concatenate([und[0], und[1]]), np.concatenate([und[1], und[0]])


def reference_rhs(
    t: float,
    theta: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    omega: np.ndarray,
    params: KuramotoParams,
    total_time: float,
    communities: np.ndarray | None,
) -> np.ndarray:
    """Direct per-edge evaluation with Python loops (the specification in the module docstring)."""
    n = theta.size
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for j, i in zip(src.tolist(), dst.tolist(), strict=True):
        neighbours[i].append(j)
    s = math.pi * params.periods * t / total_time
    burst = (1 - params.burst_floor) * abs(
        math.cos(params.burst_frequency * s)
    ) ** params.burst_sharpness
    profile = (burst + params.burst_floor) * math.sin(s) ** 2 * (1 - params.envelope_floor)
    profile += params.envelope_floor
    out = omega.copy()
    for i in range(n):
        norm = sum(math.sqrt(len(neighbours[k])) for k in neighbours[i])
        for j in neighbours[i]:
            w_ij = math.sqrt(len(neighbours[j])) / norm
            out[i] += params.coupling * profile * w_ij * math.sin(theta[j] - theta[i])
    if communities is not None:
        for c in np.unique(communities):
            members = np.flatnonzero(communities == c)
            z = np.mean(np.exp(1j * theta[members]))
            for i in members:
                out[i] += (
                    params.community_coupling * profile * abs(z) * math.sin(np.angle(z) - theta[i])
                )
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("with_communities", [False, True])
def test_rhs_matches_per_edge_reference(seed: int, with_communities: bool) -> None:
    n = 40
    src, dst = random_graph(n, 90, seed)
    params = KuramotoParams(coupling=3.0, community_coupling=1.7 if with_communities else 0.0)
    communities = np.random.default_rng(seed).integers(0, 5, n) * 7 if with_communities else None
    system = KuramotoSystem(src, dst, n, params, total_time=2.0, seed=seed, communities=communities)
    rng = np.random.default_rng(100 + seed)
    for t in [0.0, 0.37, 1.0, 1.93]:
        theta = rng.normal(0.0, 3.0, n)
        expected = reference_rhs(t, theta, src, dst, system.omega, params, 2.0, communities)
        np.testing.assert_allclose(system.rhs(t, theta), expected, rtol=0, atol=1e-12)


def test_weights_are_row_normalized_sqrt_degree() -> None:
    src, dst = random_graph(30, 60, 5)
    system = KuramotoSystem(src, dst, 30, KuramotoParams(), 1.0, seed=0)
    weights = system.weights.toarray()
    has_neighbours = np.bincount(dst, minlength=30) > 0
    np.testing.assert_allclose(weights.sum(1)[has_neighbours], 1.0, atol=1e-14)
    degree = np.bincount(dst, minlength=30)
    i = int(dst[0])
    senders = src[dst == i]
    ratio = weights[i, senders] / np.sqrt(degree[senders])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-13)


def test_natural_frequencies_clipped_and_centred() -> None:
    src, dst = random_graph(2000, 3000, 1)
    params = KuramotoParams(omega_std=2.0, omega_clip=1.0, theta0_std=5.0)
    system = KuramotoSystem(src, dst, 2000, params, 1.0, seed=3)
    assert abs(system.omega.mean()) < 1e-12
    spread = system.omega.max() - system.omega.min()
    assert spread <= 2 * params.omega_clip * params.omega_std + 1e-12
    assert spread > 0.99 * 2 * params.omega_clip * params.omega_std  # the clip is active
    assert np.std(system.initial_state()) == pytest.approx(5.0, rel=0.1)
    again = KuramotoSystem(src, dst, 2000, params, 1.0, seed=3)
    np.testing.assert_array_equal(again.initial_state(), system.initial_state())
    other = KuramotoSystem(src, dst, 2000, params, 1.0, seed=4)
    assert not np.array_equal(other.initial_state(), system.initial_state())


def test_zero_coupling_rotates_freely() -> None:
    src, dst = random_graph(50, 100, 2)
    system = KuramotoSystem(src, dst, 50, KuramotoParams(coupling=0.0), 5.0, seed=0)
    theta0 = system.initial_state()
    frames = list(simulate(system, theta0, 0, 500, 0.01, 100))
    assert [step for step, _, _ in frames] == [100, 200, 300, 400, 500]
    for _, t, theta in frames:
        np.testing.assert_allclose(theta, theta0 + system.omega * t, rtol=0, atol=1e-9)


def test_strong_coupling_synchronizes_complete_graph() -> None:
    n = 40
    i, j = np.nonzero(~np.eye(n, dtype=bool))
    params = KuramotoParams(coupling=10.0, envelope_floor=1.0, omega_std=0.5)
    system = KuramotoSystem(j, i, n, params, total_time=10.0, seed=0)
    theta0 = system.initial_state()
    order0 = abs(np.mean(np.exp(1j * theta0)))
    *_, (_, _, theta) = simulate(system, theta0, 0, 1000, 0.01, 1000)
    order = abs(np.mean(np.exp(1j * theta)))
    assert order0 < 0.5
    assert order > 0.99


def test_rk4_error_shrinks_16x_when_dt_halves() -> None:
    src, dst = random_graph(30, 60, 4)
    params = KuramotoParams(coupling=2.0, burst_frequency=1.0, community_coupling=0.5)
    communities = np.arange(30) % 3
    system = KuramotoSystem(src, dst, 30, params, total_time=2.0, seed=0, communities=communities)
    theta0 = system.initial_state()

    def final(steps: int) -> np.ndarray:
        *_, (_, _, theta) = simulate(system, theta0, 0, steps, 2.0 / steps, steps)
        return theta

    reference = final(1600)
    errors = [np.abs(final(steps) - reference).max() for steps in (25, 50, 100)]
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(12.0 < r < 20.0 for r in ratios), (errors, ratios)


def test_coupling_profile_envelope_and_bursts() -> None:
    params = KuramotoParams(envelope_floor=0.5, burst_floor=0.5)
    t = np.linspace(0.0, 10.0, 10001)
    k = coupling_profile(t, params, 10.0)
    assert k.min() == pytest.approx(0.5)  # the floor at t = 0 and t = T
    assert k.max() == pytest.approx(1.0, abs=1e-6)  # a burst at the envelope's peak
    system = KuramotoSystem(np.array([0, 1]), np.array([1, 0]), 2, params, 10.0, seed=0)
    assert system.coupling(5.0) == pytest.approx(
        params.coupling * coupling_profile(5.0, params, 10.0)
    )


def test_bad_input_is_named() -> None:
    src, dst = random_graph(10, 15, 0)
    with pytest.raises(ValueError, match="community"):
        KuramotoSystem(src, dst, 10, KuramotoParams(community_coupling=1.0), 1.0, seed=0)
    with pytest.raises(ValueError, match=r"\[0, 5\)"):
        KuramotoSystem(src, dst, 5, KuramotoParams(), 1.0, seed=0)
    with pytest.raises(ValueError, match="equal length"):
        KuramotoSystem(src, dst[:-1], 10, KuramotoParams(), 1.0, seed=0)
    with pytest.raises(ValueError, match="communities"):
        KuramotoSystem(src, dst, 10, KuramotoParams(), 1.0, seed=0, communities=np.zeros(3))
    with pytest.raises(ValueError, match="total_time"):
        KuramotoSystem(src, dst, 10, KuramotoParams(), 0.0, seed=0)


def test_rhs_bits_do_not_depend_on_torch_threads() -> None:
    """Resumed runs must be bit-identical even if the thread count differs between runs."""
    import torch

    n = 100_003  # several sin/cos blocks, with a ragged last one
    pairs = np.random.default_rng(7).integers(0, n, (2, 150_000))
    src, dst = np.concatenate([pairs, pairs[::-1]], axis=1)
    system = KuramotoSystem(src, dst, n, KuramotoParams(), 10.0, seed=0)
    theta = system.initial_state()
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 3):
            torch.set_num_threads(threads)
            results.append(system.rhs(1.234, theta))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(results[0], results[1])
    sin_sum = system.weights @ np.sin(theta)
    cos_sum = system.weights @ np.cos(theta)
    expected = system.omega + system.coupling(1.234) * (
        sin_sum * np.cos(theta) - cos_sum * np.sin(theta)
    )
    np.testing.assert_allclose(results[0], expected, rtol=0, atol=1e-12)
