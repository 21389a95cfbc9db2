"""The power-law fit L = a·N^(−α): α and its standard error against synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from roma_bench.studies.scaling import fit_power_law


def _synthetic(rng: np.random.Generator, alpha: float, a: float, noise: float, k: int = 12):
    n = np.geomspace(1e3, 1e7, k)
    return n, a * n ** (-alpha) * np.exp(noise * rng.standard_normal(k))


def test_exact_power_law_is_recovered_exactly() -> None:
    n = np.array([1e3, 1e4, 1e5, 1e6])
    fit = fit_power_law(n, 3.0 * n**-0.5)
    assert fit.alpha == pytest.approx(0.5, abs=1e-12)
    assert fit.a == pytest.approx(3.0, rel=1e-10)
    assert fit.alpha_se == pytest.approx(0.0, abs=1e-10)
    assert fit.r2 == pytest.approx(1.0)


def test_noisy_power_law_alpha_within_its_standard_error() -> None:
    rng = np.random.default_rng(7)
    n, loss = _synthetic(rng, alpha=0.35, a=5.0, noise=0.05)
    fit = fit_power_law(n, loss)
    reference = stats.linregress(np.log(n), np.log(loss))
    assert fit.alpha == pytest.approx(-reference.slope, rel=1e-12)
    assert fit.alpha_se == pytest.approx(reference.stderr, rel=1e-10)
    assert abs(fit.alpha - 0.35) < 3 * fit.alpha_se
    # Theory: se(α) = σ_noise / sqrt(Σ (log N − mean)²) ≈ 0.005 here.
    expected = 0.05 / np.sqrt(((np.log(n) - np.log(n).mean()) ** 2).sum())
    assert 0.5 * expected < fit.alpha_se < 2 * expected


def test_standard_error_matches_the_spread_over_repeated_experiments() -> None:
    rng = np.random.default_rng(0)
    fits = [fit_power_law(*_synthetic(rng, 0.7, 2.0, 0.1)) for _ in range(400)]
    alphas = np.array([f.alpha for f in fits])
    assert alphas.mean() == pytest.approx(0.7, abs=0.005)  # unbiased
    mean_se = np.mean([f.alpha_se for f in fits])
    assert mean_se == pytest.approx(alphas.std(ddof=1), rel=0.15)


def test_bad_inputs_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        fit_power_law([1, 10, 100], [1.0, 0.0, 0.5])
    with pytest.raises(ValueError, match="at least 2 distinct N"):
        fit_power_law([10, 10], [1.0, 2.0])
    two = fit_power_law([10, 100], [1.0, 0.1])
    assert two.alpha == pytest.approx(1.0) and np.isnan(two.alpha_se)
