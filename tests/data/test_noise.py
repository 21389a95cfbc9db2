"""Multiplicative log-normal noise x·exp(√σ ξ): log-mean 0, log-variance σ."""

from __future__ import annotations

import math

import pytest
import torch

from roma_bench.data.noise import lognormal_noise


@pytest.mark.parametrize("sigma", [1e-4, 1e-2, 0.5])
def test_log_ratio_has_mean_zero_and_variance_sigma(sigma: float) -> None:
    values = torch.rand(1000, 400, dtype=torch.float64) * 10 + 0.1
    noisy = lognormal_noise(values, sigma, torch.Generator().manual_seed(0))
    log_ratio = torch.log(noisy / values)
    n = log_ratio.numel()
    # mean within 5 standard errors, variance within 5 standard errors (var of s² = 2σ²/n)
    assert abs(log_ratio.mean().item()) < 5 * math.sqrt(sigma / n)
    assert abs(log_ratio.var().item() - sigma) < 5 * sigma * math.sqrt(2 / n)


def test_noise_is_multiplicative_and_keeps_signs() -> None:
    values = torch.tensor([[-2.0, 0.0, 3.0]])
    noisy = lognormal_noise(values, 0.1, torch.Generator().manual_seed(1))
    assert noisy[0, 1] == 0
    assert noisy[0, 0] < 0 < noisy[0, 2]


def test_zero_sigma_is_an_exact_copy() -> None:
    values = torch.randn(5, 3)
    out = lognormal_noise(values, 0.0)
    assert torch.equal(out, values) and out.data_ptr() != values.data_ptr()


def test_generator_makes_it_reproducible() -> None:
    values = torch.ones(4, 4)
    a = lognormal_noise(values, 0.2, torch.Generator().manual_seed(7))
    b = lognormal_noise(values, 0.2, torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and not torch.equal(a, values)


def test_bad_sigma_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"noise σ must be a finite number ≥ 0, got -0\.1"):
        lognormal_noise(torch.ones(2), -0.1)
    with pytest.raises(TypeError, match="floating-point"):
        lognormal_noise(torch.ones(2, dtype=torch.int64), 0.1)
