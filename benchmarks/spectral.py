"""The FNO/TFNO baselines' operator with :class:`baselines.spectral.WindowSpectralConv`
(DFT as matrix products) against ``neuralop``'s ``SpectralConv`` (FFT), forward + backward.

Both operators get the same weights and the input shape of the km-tiny ``tiny`` presets
(``n`` nodes × ``3 + 2(p + S)`` channels × ``κ`` lookback frames). Prints the median
milliseconds of each and their ratio, and the largest relative difference of the outputs and
parameter gradients (they must agree to float32 rounding).

    OMP_NUM_THREADS=1 python benchmarks/spectral.py [--nodes 512] [--lookback 16]
"""

from __future__ import annotations

import argparse
from functools import partial

import torch
from neuralop.layers.spectral_convolution import SpectralConv
from neuralop.models import FNO, TFNO
from timing import median_ms

from baselines.neural_operators import WindowFNOModel, WindowTFNOModel
from baselines.spectral import WindowSpectralConv


def _operator(name: str, conv: type[SpectralConv], channels: int, horizon: int, kappa: int):
    model_class = {"fno": WindowFNOModel, "tfno": WindowTFNOModel}[name]
    preset = dict(model_class.SIZES["tiny"])
    rank = preset.pop("rank", None)
    operator = TFNO if name == "tfno" else FNO
    extra = {"rank": rank} if rank is not None else {}
    return operator(
        n_modes=(min(preset.pop("n_modes"), kappa),),
        in_channels=channels,
        out_channels=horizon,
        conv_module=conv,
        **preset,
        **extra,
    )


def _step(model: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """One forward + backward from zeroed gradients; returns the (detached) output."""
    model.zero_grad(set_to_none=True)
    out = model(x)
    out.backward(grad)
    return out.detach()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=512, help="n (km-tiny batch: 512)")
    parser.add_argument("--lookback", type=int, default=16, help="κ (km-tiny: 16)")
    parser.add_argument(
        "--features", type=int, default=6, help="p + S per node, differences and state (km-tiny: 6)"
    )
    parser.add_argument("--horizon", type=int, default=4, help="H (km-tiny: 4)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    channels = 3 + 2 * args.features
    worst_overall = 0.0
    for name in ("fno", "tfno"):
        torch.manual_seed(0)
        reference = _operator(name, SpectralConv, channels, args.horizon, args.lookback)
        ours = _operator(name, WindowSpectralConv, channels, args.horizon, args.lookback)
        ours.load_state_dict(reference.state_dict())
        x = torch.randn(args.nodes, channels, args.lookback)
        grad = torch.randn(args.nodes, args.horizon, args.lookback)
        outputs = []
        for model in (reference, ours):
            out = _step(model, x, grad)
            outputs.append([out] + [p.grad for p in model.parameters()])
        worst = max(
            float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)) for a, b in zip(*outputs)
        )
        worst_overall = max(worst_overall, worst)
        t_ref = median_ms(partial(_step, reference, x, grad), args.repeats)
        t_ours = median_ms(partial(_step, ours, x, grad), args.repeats)
        print(f"{name} tiny on [{args.nodes}, {channels}, {args.lookback}], forward + backward, "
              f"{args.threads} thread(s), median of {args.repeats}")  # fmt: skip
        print(f"  neuralop SpectralConv (FFT)        {t_ref:7.2f} ms")
        print(f"  WindowSpectralConv (DFT matrices)  {t_ours:7.2f} ms   ratio {t_ours / t_ref:.2f}")
        print(f"  largest relative difference of output and gradients: {worst:.2e}")
    return 0 if worst_overall < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
