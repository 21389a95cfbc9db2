"""The convergence checks on synthetic training curves (loss as a function of Σ learning rate)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from roma_bench.convergence import doubling_check, improving_runs, still_improving

VAL_EVERY, NOISE = 25, 0.002


def progress(step: np.ndarray, budget: int, schedule: str) -> np.ndarray:
    """τ(t) = ∫₀ᵗ lr(s) ds for a constant lr = 1 or a cosine decay to 0 at ``budget``."""
    if schedule == "constant":
        return step.astype(float)
    return 0.5 * (step + budget / math.pi * np.sin(math.pi * step / budget))


def fast(tau):  # saturates early: converged well before 1000 steps of lr 1
    return 0.1 + 0.9 * np.exp(-tau / 100)


def slow(tau):  # keeps falling: 1000 steps are not enough
    return 0.1 + 1 / (1 + tau / 200)


def run(loss, budget: int, schedule: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One run's validation curve (every VAL_EVERY steps) with N(0, NOISE²) scatter."""
    steps = np.arange(VAL_EVERY, budget + 1, VAL_EVERY)
    noise = np.random.default_rng(seed).normal(0, NOISE, len(steps))
    return steps, loss(progress(steps, budget, schedule)) + noise


def final(loss, budget, schedule):
    """The 3-seed validation errors at the end of the budget."""
    return [run(loss, budget, schedule, seed)[1][-1] for seed in range(3)]


def test_a_converged_run_passes_both_checks():
    for seed in range(3):
        assert not still_improving(*run(fast, 1000, "constant", seed)).improving
    verdict = doubling_check(final(fast, 1000, "constant"), final(fast, 2000, "constant"))
    assert verdict.converged and abs(verdict.improvement) < 0.05


def test_a_run_still_falling_fails_both_checks():
    for seed in range(3):
        trend = still_improving(*run(slow, 1000, "constant", seed))
        assert trend.improving and trend.drop > 0.1 and trend.points == 10
    verdict = doubling_check(final(slow, 1000, "constant"), final(slow, 2000, "constant"))
    # noise-free: 1 − L(2000)/L(1000) = 1 − (0.1 + 1/11)/(0.1 + 1/6)
    assert verdict.improvement == pytest.approx(1 - (0.1 + 1 / 11) / (0.1 + 1 / 6), abs=0.02)
    assert not verdict.converged


def test_a_curve_flattened_by_a_decayed_learning_rate_is_caught_by_doubling():
    """Cosine to 0: the end of the curve is flat (the per-run flag is fooled), but 2B helps."""
    for seed in range(3):  # flat: lr ≈ 0 at the end
        assert not still_improving(*run(slow, 1000, "cosine", seed)).improving
    verdict = doubling_check(final(slow, 1000, "cosine"), final(slow, 2000, "cosine"))
    # τ(B) = B/2: L(500) = 0.1 + 1/3.5 against L(1000) = 0.1 + 1/6
    assert verdict.improvement == pytest.approx(1 - (0.1 + 1 / 6) / (0.1 + 1 / 3.5), abs=0.02)
    assert not verdict.converged


def test_a_noise_free_straight_tail_and_short_curves():
    assert still_improving([1, 2, 3, 4], [1.0, 0.9, 0.8, 0.7]).improving
    assert not still_improving([1, 2], [1.0, 0.5]).improving  # too few points to tell
    assert not still_improving([1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0]).improving
    with pytest.raises(ValueError, match="one length"):
        still_improving([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="need at least one run"):
        doubling_check([], [1.0])


def test_improving_runs_counts_flagged_curves_with_enough_points():
    falling = [[s, 1.0 - 0.05 * s] for s in range(10)]  # last 3: −16 %
    flat = [[s, 0.5] for s in range(10)]
    assert improving_runs([falling, flat, [[0, 1.0]]]) == (1, 2)


def test_the_doubling_verdict_carries_the_paired_standard_error_over_seeds():
    # per-seed differences 0.1, 0.2, 0.0: std 0.1, / √3 / mean at B (1.0)
    verdict = doubling_check([1.0, 1.2, 0.8], [0.9, 1.0, 0.8])
    assert verdict.improvement == pytest.approx(0.1)
    assert verdict.improvement_se == pytest.approx(0.1 / 3**0.5)
    assert math.isnan(doubling_check([1.0], [0.9]).improvement_se)  # one seed: no spread


def test_a_verdict_within_two_standard_errors_of_the_threshold_is_not_resolved():
    # +10 % ± 5.8 %: not converged, but 5 % lies within 2 SE, so the seeds do not settle it
    noisy = doubling_check([1.0, 1.2, 0.8], [0.9, 1.0, 0.8])
    assert not noisy.converged and not noisy.resolved
    # +10 % ± 0.0 %: every seed improved by 10 %: resolved
    steady = doubling_check([1.0, 1.2, 0.8], [0.9, 1.08, 0.72])
    assert steady.improvement == pytest.approx(0.1) and steady.resolved
    # +1 % ± 0.6 %: converged, 4 % below the threshold, about 7 SE: resolved
    assert doubling_check([1.0, 1.0, 1.0], [0.98, 0.99, 1.0]).resolved
    assert not doubling_check([1.0], [0.5]).resolved  # one seed: spread unknown
