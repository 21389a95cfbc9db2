"""Noise that fits each field: additive Gaussian on phases, log-normal on activity, σ a std."""

from __future__ import annotations

import math

import pytest
import torch

from roma_bench.data.noise import gaussian_noise, lognormal_noise, observation_noise


def _moments_match(samples: torch.Tensor, sigma: float) -> None:
    """Mean within 5 standard errors of 0, std within 5 standard errors of σ."""
    n = samples.numel()
    assert abs(samples.mean().item()) < 5 * sigma / math.sqrt(n)
    assert abs(samples.std().item() - sigma) < 5 * sigma / math.sqrt(2 * n)


@pytest.mark.parametrize("sigma", [1e-3, 1e-1, 0.5])
def test_phase_noise_is_additive_gaussian_in_radians(sigma: float) -> None:
    theta = torch.randn(1000, 400, dtype=torch.float64) * 5
    noisy = observation_noise(theta, sigma, "kuramoto", torch.Generator().manual_seed(0))
    _moments_match(noisy - theta, sigma)
    # offset-free: the same draw on θ + 2π is the same noise
    shifted = observation_noise(
        theta + 2 * math.pi, sigma, "kuramoto", torch.Generator().manual_seed(0)
    )
    torch.testing.assert_close(shifted - (theta + 2 * math.pi), noisy - theta)


@pytest.mark.parametrize("sigma", [1e-2, 1e-1, 0.5])
def test_activity_noise_is_lognormal_with_log_std_sigma(sigma: float) -> None:
    activity = torch.rand(1000, 400, dtype=torch.float64) * 10 + 0.1
    noisy = observation_noise(activity, sigma, "social", torch.Generator().manual_seed(0))
    assert (noisy > 0).all()
    _moments_match(torch.log(noisy / activity), sigma)


def test_zero_sigma_is_an_exact_copy_and_generator_reproduces() -> None:
    values = torch.randn(5, 3)
    for noise in (gaussian_noise, lognormal_noise):
        out = noise(values, 0.0)
        assert torch.equal(out, values) and out.data_ptr() != values.data_ptr()
        a = noise(values, 0.2, torch.Generator().manual_seed(7))
        assert torch.equal(a, noise(values, 0.2, torch.Generator().manual_seed(7)))
        assert not torch.equal(a, values)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"noise σ must be a finite number ≥ 0, got -0\.1"):
        gaussian_noise(torch.ones(2), -0.1)
    with pytest.raises(TypeError, match="floating-point"):
        lognormal_noise(torch.ones(2, dtype=torch.int64), 0.1)
    with pytest.raises(ValueError, match="noise: unknown system 'heat'"):
        observation_noise(torch.ones(2), 0.1, "heat")


@pytest.mark.parametrize("store_fixture", ["km_tiny_store", "bd_tiny_store"])
def test_loader_noises_inputs_and_targets_independently_and_keeps_evaluation_clean(
    store_fixture: str, request: pytest.FixtureRequest
) -> None:
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.store import TaskStore

    sigma = 0.05
    with TaskStore(request.getfixturevalue(store_fixture)) as store:
        system = store.card.system
        noisy = WindowLoader(store, "train", seed=3, noise=sigma).sample()
        t0 = round(noisy.t0 / noisy.frame_dt)
        ids = noisy.node_ids.numpy()
        lookback, horizon = noisy.history.shape[1], noisy.target.shape[1]
        clean = torch.from_numpy(store.read_field(ids, t0 - lookback + 1, t0 + horizon + 1))
        if system == "kuramoto":
            d_in, d_out = noisy.history - clean[:, :lookback], noisy.target - clean[:, lookback:]
        else:
            d_in = torch.log(noisy.history / clean[:, :lookback])
            d_out = torch.log(noisy.target / clean[:, lookback:])
        for d in (d_in, d_out):
            assert abs(d.double().std().item() - sigma) < 0.1 * sigma
        # independent draws: the last input frame and the first target frame are uncorrelated
        a, b = d_in[:, -1].double(), d_out[:, 0].double()
        corr = ((a - a.mean()) * (b - b.mean())).mean() / (a.std() * b.std())
        assert abs(corr.item()) < 5 / math.sqrt(a.numel())
        for batch in WindowLoader(store, "test", noise=sigma).batches():
            start = round(batch.t0 / batch.frame_dt) - lookback + 1
            rows = store.read_field(batch.node_ids.numpy(), start, start + lookback + horizon)
            assert torch.equal(batch.history, torch.from_numpy(rows[:, :lookback]))
            assert torch.equal(batch.target, torch.from_numpy(rows[:, lookback:]))
