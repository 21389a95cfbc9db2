"""baselines.spectral: the DFT-matrix spectral convolution equals neuralop's FFT one."""

from __future__ import annotations

import pytest
import torch
from baseline_kit import make_spec
from neuralop.layers.spectral_convolution import SpectralConv

from baselines.spectral import WindowSpectralConv, dft_matrices
from roma_bench.registry import build_model


@pytest.mark.parametrize("factorization", [None, "tucker", "cp"])
@pytest.mark.parametrize(
    ("length", "n_modes"),
    [(16, 8), (16, 16), (16, 3), (7, 7), (6, 6), (8, 16)],
    ids=["kept-5-of-9", "nyquist-even", "few-modes", "odd-length", "short-nyquist", "short-input"],
)
def test_equals_neuralops_fft_path(factorization: str | None, length: int, n_modes: int) -> None:
    """Outputs and gradients (input and every weight) agree to float32 rounding."""
    torch.manual_seed(0)
    kwargs = {} if factorization is None else {"factorization": factorization, "rank": 0.5}
    reference = SpectralConv(6, 5, n_modes=(n_modes,), **kwargs)
    ours = WindowSpectralConv(6, 5, n_modes=(n_modes,), **kwargs)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(3, 6, length, requires_grad=True)
    expected, got = reference(x), ours(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    weights = torch.randn_like(expected)
    grads_expected = torch.autograd.grad(expected, [x, *reference.parameters()], weights)
    grads_got = torch.autograd.grad(got, [x, *ours.parameters()], weights)
    for a, b in zip(grads_got, grads_expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_matrices_are_the_truncated_rfft_and_its_inverse() -> None:
    torch.manual_seed(1)
    forward, inverse = dft_matrices(10, 4, torch.float64)
    x = torch.randn(7, 10, dtype=torch.float64)
    spectrum = torch.view_as_complex((x @ forward).unflatten(-1, (4, 2)))
    torch.testing.assert_close(spectrum, torch.fft.rfft(x, norm="forward")[:, :4])
    modes = torch.randn(7, 4, dtype=torch.complex128)
    padded = torch.cat([modes, torch.zeros(7, 2, dtype=torch.complex128)], dim=1)
    torch.testing.assert_close(
        torch.view_as_real(modes).flatten(-2) @ inverse,
        torch.fft.irfft(padded, n=10, norm="forward"),
    )


def test_too_many_modes_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"modes must lie in \[1, 5\] for 8 frames, got 6"):
        dft_matrices(8, 6)


def test_other_shapes_take_neuralops_path() -> None:
    """A 2-D grid is not a window: the module must give exactly neuralop's result."""
    torch.manual_seed(2)
    reference = SpectralConv(3, 4, n_modes=(4, 4))
    ours = WindowSpectralConv(3, 4, n_modes=(4, 4))
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(ours(x), reference(x))


@pytest.mark.parametrize("name", ["fno", "tfno"])
def test_window_baselines_use_it(name: str) -> None:
    model = build_model(name, make_spec())
    convs = [m for m in model.modules() if isinstance(m, SpectralConv)]
    assert convs and all(type(m) is WindowSpectralConv for m in convs)
