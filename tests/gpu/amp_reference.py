"""AMP-vs-fp32 measurements shared by the CUDA tests and their CPU bf16 calibration.

``python tests/gpu/amp_reference.py`` prints both on CPU with bf16 autocast.
"""

from __future__ import annotations

import torch

from roma_bench.models.roma.operator import BoundOperator, FourierFeatures, LatentOperator
from roma_bench.models.roma.pde import field_derivatives


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    """``‖got − want‖_F / ‖want‖_F`` in float64."""
    got, want = got.double(), want.double()
    return float((got - want).norm() / want.norm().clamp_min(1e-30))


def derivative_errors(device: torch.device, dtype: torch.dtype, n: int = 256) -> dict[str, float]:
    """Relative error of the ROMA operator's jet (u, ∂_t u, ∇_y u, Δ_y u) under autocast."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    operator = LatentOperator(FourierFeatures(3, 32, 0.5, 0.5), cond_dim=16, p=16, coeff_dim=3,
                              out_dim=3, width=64, layers=3, nonlinear=True).to(device)  # fmt: skip
    cond = torch.randn(n, 16, generator=generator).to(device)
    coeffs = torch.randn(n, 48, generator=generator).to(device)
    tx = torch.rand(n, 4, generator=generator).to(device)
    field = BoundOperator(operator, cond, coeffs)
    want = field_derivatives(field, tx)
    with torch.autocast(device.type, dtype=dtype):
        got = field_derivatives(field, tx)
    return {name: relative_error(getattr(got, name), getattr(want, name))
            for name in ("u", "u_t", "grad_y", "lap_y")}  # fmt: skip


def training_curves(tmp_path, name: str, device: str, amp: bool) -> list[tuple[int, float]]:
    """ROMA-tiny trained 6 steps on km-tiny: ``[(step, train_loss)…, (6, val_loss)]``."""
    from roma_bench.checkpoint_format import read_checkpoint
    from roma_bench.training.checkpointing import STATE_FILE
    from roma_bench.training.config import TrainConfig
    from roma_bench.training.fit import train

    config = TrainConfig(model_name="roma", size="tiny", task="km-tiny", steps=6, val_every=6,
                         checkpoint_every=6, log_every=1, device=device, amp=amp, plots=False,
                         evaluate_test=False)  # fmt: skip
    result = train(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", progress=False,
                   out_dir=tmp_path / name)  # fmt: skip
    book = read_checkpoint(tmp_path / name / STATE_FILE)["extra"]["bookkeeping"]
    return [(int(s), float(v)) for s, v in book["train"]] + [(6, result.final_val_loss)]


def cpu_bf16_training_error(tmp_path) -> float:
    """Largest relative gap of the ROMA-tiny curves, CPU bf16 autocast vs fp32 (calibration).

    Needs ``ROMA_BENCH_DATA`` holding ``km-tiny.h5`` (or generates it).
    """
    import contextlib

    import roma_bench.training.loop as loop

    fp32 = training_curves(tmp_path, "fp32", "cpu", amp=False)
    cuda_only = loop._autocast
    loop._autocast = lambda device, enabled: (
        torch.autocast("cpu", dtype=torch.bfloat16) if enabled else contextlib.nullcontext(),
        None,
    )
    try:
        bf16 = training_curves(tmp_path, "bf16", "cpu", amp=True)
    finally:
        loop._autocast = cuda_only
    return max(abs(b - a) / abs(a) for (_, a), (_, b) in zip(fp32, bf16))


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    cpu = torch.device("cpu")
    print("CPU bf16 autocast, ROMA operator jet:", derivative_errors(cpu, torch.bfloat16))
    with tempfile.TemporaryDirectory() as tmp:
        gap = cpu_bf16_training_error(Path(tmp))
        print("CPU bf16 autocast, ROMA-tiny 6 steps, max relative loss gap:", gap)
