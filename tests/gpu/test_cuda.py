"""The CUDA path: AMP (bf16, or fp16 with a grad scaler) against fp32. Skipped without CUDA.

Tolerances (bf16 keeps 8 mantissa bits, a relative rounding of 2⁻⁸ ≈ 0.4% per operation):

- latent-PDE derivatives (``u``, ``∂_t u``, ``∇_y u``, ``Δ_y u`` of ROMA's operator jet) under
  autocast: relative Frobenius error ≤ 5e-2 against fp32 on the same weights and points;
- ROMA-tiny trained 6 steps on km-tiny with AMP: every logged training loss and the final
  validation loss within 2% (relative) of the fp32 run from the same seed.

Calibrated on CPU bf16 autocast (see ``tests/gpu/amp_reference.py``); untested on a GPU so far.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (AMP path)"),
]

DERIVATIVE_TOLERANCE = 5e-2
TRAINING_TOLERANCE = 2e-2


def amp_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def test_latent_pde_derivatives_under_autocast_match_fp32():
    from amp_reference import derivative_errors

    errors = derivative_errors(torch.device("cuda"), amp_dtype())
    assert max(errors.values()) <= DERIVATIVE_TOLERANCE, errors


def test_roma_tiny_amp_training_tracks_fp32(km_tiny_store, tmp_path, monkeypatch):
    from amp_reference import training_curves

    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    fp32 = training_curves(tmp_path, "fp32", "cuda", amp=False)
    amp = training_curves(tmp_path, "amp", "cuda", amp=True)
    assert len(amp) == len(fp32) > 1
    for (step, want), (_, got) in zip(fp32, amp):
        assert abs(got - want) <= TRAINING_TOLERANCE * abs(want), (step, got, want)
