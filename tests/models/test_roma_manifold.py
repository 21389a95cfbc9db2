"""Poincaré-ball identities (roma_bench.models.roma.manifold)."""

from __future__ import annotations

import math

import pytest
import torch

from roma_bench.models.roma.manifold import PoincareBall

torch.set_default_dtype(torch.float32)


@pytest.fixture
def ball() -> PoincareBall:
    return PoincareBall(1 / 8)


def points(ball: PoincareBall, n: int = 64, d: int = 5, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return ball.expmap0(torch.randn(n, d, generator=gen, dtype=torch.float64))


def test_exp_log_are_inverse(ball: PoincareBall) -> None:
    x = points(ball)
    assert torch.allclose(ball.expmap0(ball.logmap0(x)), x, atol=1e-10)
    v = torch.randn(64, 5, dtype=torch.float64)
    assert torch.allclose(ball.logmap0(ball.expmap0(v)), v, atol=1e-8)


def test_mobius_identities(ball: PoincareBall) -> None:
    x, y = points(ball, seed=1), points(ball, seed=2)
    zero = torch.zeros_like(x)
    assert torch.allclose(ball.mobius_add(x, zero), x, atol=1e-12)
    assert torch.allclose(ball.mobius_add(zero, x), x, atol=1e-12)
    assert torch.allclose(ball.mobius_add(-x, x), zero, atol=1e-12)
    # left cancellation: (−x) ⊕ (x ⊕ y) = y
    assert torch.allclose(ball.mobius_add(-x, ball.mobius_add(x, y)), y, atol=1e-10)


def test_mobius_matvec(ball: PoincareBall) -> None:
    x = points(ball)
    eye = torch.eye(5, dtype=torch.float64)
    assert torch.allclose(ball.mobius_matvec(eye, x), x, atol=1e-10)
    W = torch.randn(3, 5, dtype=torch.float64) * 0.3
    expected = ball.expmap0(ball.logmap0(x) @ W.T)
    assert torch.allclose(ball.mobius_matvec(W, x), expected, atol=1e-8)
    assert torch.equal(
        ball.mobius_matvec(torch.zeros(3, 5, dtype=torch.float64), x),
        torch.zeros(64, 3, dtype=torch.float64),
    )


def test_distance(ball: PoincareBall) -> None:
    x, y = points(ball, seed=3), points(ball, seed=4)
    assert torch.allclose(ball.dist(x, y), ball.dist(y, x), atol=1e-9)
    assert torch.all(ball.dist(x, y) >= 0)
    assert torch.allclose(ball.dist(x, x), torch.zeros(64, dtype=torch.float64), atol=1e-6)
    # from the origin: d(0, y) = (2/√c) artanh(√c‖y‖)
    sc = math.sqrt(ball.c)
    expected = 2 / sc * torch.atanh(sc * y.norm(dim=-1))
    assert torch.allclose(ball.dist(torch.zeros_like(y), y), expected, atol=1e-9)
    # Möbius addition is an isometry from the left
    z = points(ball, seed=5)
    assert torch.allclose(
        ball.dist(ball.mobius_add(z, x), ball.mobius_add(z, y)), ball.dist(x, y), atol=1e-6
    )
    assert torch.allclose(ball.sqdist(x, y), ball.dist(x, y) ** 2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_points_stay_in_ball_for_huge_inputs(ball: PoincareBall, dtype: torch.dtype) -> None:
    v = torch.randn(32, 4, dtype=dtype) * 1e6
    x = ball.expmap0(v)
    radius = 1 / math.sqrt(ball.c)
    assert torch.all(x.norm(dim=-1) < radius)
    assert torch.all(torch.isfinite(ball.logmap0(x)))
    y = ball.mobius_matvec(torch.randn(4, 4, dtype=dtype) * 1e3, x)
    assert torch.all(y.norm(dim=-1) < radius) and torch.all(torch.isfinite(y))
    assert torch.all(torch.isfinite(ball.dist(x, y)))
    assert torch.all(ball.proj(v).norm(dim=-1) < radius)


def test_gradients_are_finite_at_the_origin(ball: PoincareBall) -> None:
    v = torch.zeros(3, 4, requires_grad=True)
    (
        ball.logmap0(ball.expmap0(v)).sum() + ball.dist(ball.expmap0(v), ball.expmap0(v)).sum()
    ).backward()
    assert torch.all(torch.isfinite(v.grad))


def test_bad_curvature() -> None:
    with pytest.raises(ValueError, match="curvature"):
        PoincareBall(0.0)
