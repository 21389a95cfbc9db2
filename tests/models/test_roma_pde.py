"""Latent-PDE residuals: analytic solutions, derivative methods agree."""

from __future__ import annotations

import pytest
import torch

from roma_bench.models.roma.latent_pde import supervised_points
from roma_bench.models.roma.operator import (
    BoundOperator,
    FourierFeatures,
    LatentOperator,
    SharedPointsField,
)
from roma_bench.models.roma.pde import (
    burgers_residual,
    derivatives_from_jet,
    emergent_residual,
    field_derivatives,
    pde_residual,
)

METHODS = ["forward", "reverse"]


def points(n: int = 20, d: int = 3, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    tx = torch.rand(n, 1 + d, generator=gen, dtype=torch.float64)
    tx[:, 1:] = tx[:, 1:] * 2 - 1
    return tx


def travelling_wave(tx: torch.Tensor, c: float = 0.7) -> torch.Tensor:
    """u_j = sin(y_j − c t) + y_1 y_2 (j = 1..3): ∂_t u = −c cos(y_j − c t)."""
    t, y = tx[:, :1], tx[:, 1:]
    return torch.sin(y - c * t) + (y[:, :1] * y[:, 1:2])


@pytest.mark.parametrize("method", METHODS)
def test_derivatives_match_analytic(method: str) -> None:
    tx = points()
    d = field_derivatives(travelling_wave, tx, method)
    t, y = tx[:, :1], tx[:, 1:]
    arg = y - 0.7 * t
    assert torch.allclose(d.u, travelling_wave(tx), atol=1e-12)
    assert torch.allclose(d.u_t, -0.7 * torch.cos(arg), atol=1e-10)
    grad = torch.diag_embed(torch.cos(arg))  # ∂u_j/∂y_k
    grad[:, :, 0] += y[:, 1:2]
    grad[:, :, 1] += y[:, 0:1]
    assert torch.allclose(d.grad_y, grad, atol=1e-10)
    assert torch.allclose(d.lap_y, -torch.sin(arg), atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_emergent_residual_of_exact_solution_is_zero(method: str) -> None:
    tx = points(seed=1)

    def rhs(x: torch.Tensor, d) -> torch.Tensor:  # F = −c Σ_k ∂u/∂y_k + c (y_1 ∂_2 + y_2 ∂_1 terms)
        y = x[:, 1:]
        return -0.7 * (
            torch.diagonal(d.grad_y, dim1=1, dim2=2)
            - torch.cat([y[:, 1:2], y[:, 0:1], torch.zeros_like(y[:, :1])], dim=1)
        )

    out = pde_residual(travelling_wave, rhs, tx, "emergent", method=method)
    assert out.residual.abs().max() < 1e-10
    assert out.gradient.shape == (20, 3, 4)


@pytest.mark.parametrize("method", METHODS)
def test_burgers_residual_of_exact_solutions_is_zero(method: str) -> None:
    tx = points(seed=2)
    # inviscid Burgers: u = y / (1 + t) solves ∂_t u + (u·∇)u = 0 (and Δu = 0)
    out = pde_residual(
        lambda x: x[:, 1:] / (1 + x[:, :1]),
        lambda x, d: (
            torch.ones(len(x), 1, dtype=x.dtype),
            0.3 * torch.ones(len(x), 1, dtype=x.dtype),
        ),
        tx,
        "burgers",
        method=method,
    )
    assert out.residual.abs().max() < 1e-10
    assert out.gradient.abs().max() < 1e-12  # constant coefficients: no explicit (t, y) dependence
    # heat equation: u = exp(−ν k² t) sin(k y_1) solves ∂_t u = ν Δu (F = 0)
    nu, k = 0.4, 1.3

    def heat(x: torch.Tensor) -> torch.Tensor:
        return (torch.exp(-nu * k**2 * x[:, :1]) * torch.sin(k * x[:, 1:2])).expand(-1, 3)

    d = field_derivatives(heat, tx, method)
    r = burgers_residual(
        d, torch.zeros(20, 1, dtype=tx.dtype), torch.full((20, 1), nu, dtype=tx.dtype)
    )
    assert r.abs().max() < 1e-10
    assert emergent_residual(d, nu * d.lap_y).abs().max() < 1e-10


def test_burgers_needs_matching_dimensions() -> None:
    d = field_derivatives(lambda x: x[:, :1] * x[:, 1:2], points(d=2))
    with pytest.raises(ValueError, match="d_u=1, d=2"):
        burgers_residual(d, torch.ones(20, 1), torch.ones(20, 1))
    with pytest.raises(ValueError, match="expected"):
        field_derivatives(lambda x: x, torch.zeros(5))


@pytest.mark.parametrize("nonlinear", [False, True])
def test_operator_jet_matches_autograd(nonlinear: bool) -> None:
    torch.manual_seed(0)
    fourier = FourierFeatures(3, 16, 0.5, 0.5)
    op = LatentOperator(
        fourier, cond_dim=5, p=8, coeff_dim=3, out_dim=3, width=16, layers=3, nonlinear=nonlinear
    ).double()
    n = 9
    field = BoundOperator(
        op, torch.randn(n, 5, dtype=torch.float64), torch.randn(n, 24, dtype=torch.float64)
    )
    tx = points(n, seed=3)
    jet, fwd, rev = (field_derivatives(field, tx, m) for m in ("jet", "forward", "reverse"))
    for name in ("u", "u_t", "grad_y", "lap_y"):
        assert torch.allclose(getattr(jet, name), getattr(rev, name), atol=1e-10), name
        assert torch.allclose(getattr(fwd, name), getattr(rev, name), atol=1e-10), name
    assert field_derivatives(field, tx).u_t.shape == (n, 3)  # auto picks the jet


def test_jet_derivatives_are_differentiable_in_parameters() -> None:
    torch.manual_seed(0)
    op = LatentOperator(FourierFeatures(2, 8, 0.5, 0.5), 3, 4, 2, 2, 8, 2).double()
    cond, coeffs = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 8, dtype=torch.float64)
    tx = points(5, d=2)

    def loss(method: str) -> torch.Tensor:
        op.zero_grad()
        d = field_derivatives(BoundOperator(op, cond, coeffs), tx, method)
        (d.u_t.square().sum() + d.lap_y.square().sum()).backward()
        return torch.cat(
            [
                torch.zeros_like(p).flatten() if p.grad is None else p.grad.flatten()
                for p in op.parameters()
            ]
        )

    assert torch.allclose(loss("jet"), loss("reverse"), atol=1e-9)


def test_the_jets_second_order_part_is_the_latent_laplacian() -> None:
    """The latent PDE uses ``Δ_y u`` only: the jet carries that one sum ("forward
    Laplacian"), never ``∂²u/∂t²`` nor the single ``∂²u/∂y_k²``; it equals the trace of
    the Hessian over the latent axes."""
    torch.manual_seed(0)
    op = LatentOperator(FourierFeatures(3, 16, 0.5, 0.5), 5, 8, 3, 3, 16, 2).double()
    n = 6
    cond, coeffs = torch.randn(n, 5, dtype=torch.float64), torch.randn(n, 24, dtype=torch.float64)
    tx = points(n, seed=4)
    u, du, lap = BoundOperator(op, cond, coeffs).jet(tx, 2)
    assert du.shape == (4, n, 3) and lap.shape == (1, n, 3)
    for row in range(n):
        for j in range(3):

            def component(x: torch.Tensor, row: int = row, j: int = j) -> torch.Tensor:
                return op(x.unsqueeze(0), cond[row : row + 1], coeffs[row : row + 1])[0, j]

            hessian = torch.autograd.functional.hessian(component, tx[row])
            latent_trace = torch.diagonal(hessian)[1:].sum()
            assert torch.allclose(lap[0, row, j], latent_trace, atol=1e-10)
    with pytest.raises(ValueError, match="latent Laplacian"):
        derivatives_from_jet(u, du, torch.cat([lap, lap, lap]))


@pytest.mark.parametrize("out_dim", [3, 1])
def test_shared_points_jet_equals_the_per_row_jet(out_dim: int) -> None:
    """A DeepONet without per-row conditioning evaluated at the same H points for every
    node: the trunk's jet on the H points gives the per-row jet's values, derivatives and
    parameter gradients (the ``-pi`` baselines' fast path)."""
    torch.manual_seed(0)
    op = LatentOperator(FourierFeatures(3, 16, 0.5, 0.5), 0, 8, 3, out_dim, 16, 2).double()
    n, H = 7, 4
    coeffs = torch.randn(n, 24, dtype=torch.float64).repeat_interleave(H, 0)
    tx = supervised_points(n, H, 3, torch.float64, torch.device("cpu"))
    tx[:, 1:] = torch.randn(H, 3, dtype=torch.float64).repeat(n, 1)  # any shared points
    shared = SharedPointsField(op, coeffs, H)
    per_row = BoundOperator(op, tx.new_zeros(n * H, 0), coeffs)

    def jet_and_grads(field: BoundOperator) -> list[torch.Tensor]:
        op.zero_grad()
        u, du, lap = field.jet(tx, 2)
        (u.square().sum() + du.square().sum() + lap.square().sum()).backward()
        return [u, du, lap, *(p.grad.clone() for p in op.parameters() if p.grad is not None)]

    got, want = jet_and_grads(shared), jet_and_grads(per_row)
    assert len(got) == len(want) > 3
    for a, b in zip(got, want):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-12)
    assert torch.allclose(shared(tx), per_row(tx))
    other = tx.clone()
    other[H, 0] += 1.0  # node 1 at a different time: not shared points
    with pytest.raises(ValueError, match="same 4 points"):
        shared.jet(other, 2)
    with pytest.raises(ValueError, match="without per-row conditioning"):
        LatentOperator(FourierFeatures(3, 16, 0.5, 0.5), 2, 8, 3, 3, 16, 2).shared_jet(
            tx[:H].float(), torch.randn(n, 24)
        )
