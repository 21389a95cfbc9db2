"""baselines.segments: the vectorized segment_csr equals neuralop's loop, values and gradients."""

from __future__ import annotations

import pytest
import torch
from neuralop.layers import integral_transform
from neuralop.layers.segment_csr import segment_csr as neuralop_segment_csr

import baselines.neural_operators  # noqa: F401  (installs the vectorized reduction)
from baselines.segments import segment_csr


def _splits(counts: list[int], start: int = 0) -> torch.Tensor:
    return torch.tensor([start, *counts]).cumsum(0)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("batched", [False, True])
def test_matches_neuralops_loop(reduction: str, batched: bool) -> None:
    """Empty segments (0) and a non-zero start included; gradients through src agree too."""
    torch.manual_seed(0)
    counts = [3, 0, 1, 5, 0, 2, 4]
    splits = _splits(counts, start=2)
    edges = int(splits[-1]) + 3  # rows outside [p_0, p_last) are ignored
    shape = (2, edges, 5) if batched else (edges, 5)
    src = torch.randn(shape, requires_grad=True)
    ptr = splits.unsqueeze(0).repeat(2, 1) if batched else splits
    expected = neuralop_segment_csr(src, ptr, reduction, use_scatter=False)
    got = segment_csr(src, ptr, reduction, use_scatter=False)
    assert got.shape == expected.shape == ((2, 7, 5) if batched else (7, 5))
    torch.testing.assert_close(got, expected)
    weights = torch.randn_like(expected)
    (grad_expected,) = torch.autograd.grad(expected, src, weights)
    (grad_got,) = torch.autograd.grad(got, src, weights)
    torch.testing.assert_close(grad_got, grad_expected)
    empty = [i for i, c in enumerate(counts) if c == 0]
    assert got[..., empty, :].abs().max() == 0


def test_rejects_an_unknown_reduction() -> None:
    with pytest.raises(ValueError, match="'max'"):
        segment_csr(torch.zeros(3, 2), _splits([3]), "max")  # type: ignore[arg-type]


def test_gino_uses_it() -> None:
    """Importing the baselines routes neuralop's GNO integral transforms through it."""
    assert integral_transform.segment_csr is segment_csr
