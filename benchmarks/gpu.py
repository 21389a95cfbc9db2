"""One-GPU check: ROMA-B's training-step time, peak memory and model FLOP utilization, then the
``cuda`` tests.

Measured on ``--nodes``-node training subgraphs of a Kuramoto store (default ``data/km-tiny.h5``,
carry it along; ``roma-bench generate km-tiny`` makes it), with the harness's own training step
(:class:`roma_bench.training.distributed.TrainingObjective`: forward under bf16 autocast, or fp16
where bf16 is missing, training loss, backward, gradient clipping, AdamW):

- step time: median wall seconds of ``--steps`` steps after ``--warmup`` steps
  (``torch.cuda.synchronize`` around each);
- peak memory: ``torch.cuda.max_memory_allocated`` over the timed steps;
- MFU = (FLOPs of one step / step time) / the device's peak dense bf16 FLOP/s. FLOPs are
  counted by ``torch.utils.flop_counter.FlopCounterMode`` on one forward + backward (matrix
  products and attention only, so MFU is a lower bound); the peak is looked up from the
  device name (:data:`PEAK_BF16_TFLOPS`) or given with ``--peak-tflops``.

Then ``pytest -m cuda tests/gpu`` runs (``--no-tests`` skips it). Needs torch, numpy and the
project on ``sys.path`` (run from the repository root); the project still imports DGL for its
data and graph code, so the machine needs DGL until the DGL-optional path lands (issue 13).
Untested on GPU hardware so far. ``--device cpu --size tiny`` is a smoke run of the script.

    python benchmarks/gpu.py [--store data/km-tiny.h5] [--size B] [--nodes 512] [--steps 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: Dense bf16 tensor-core peak (TFLOP/s, without sparsity) by a substring of the device name.
PEAK_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0,
                    "A10": 125.0, "V100": 125.0}  # fmt: skip


def peak_tflops(device_name: str, given: float | None) -> float:
    if given is not None:
        return given
    for key, value in PEAK_BF16_TFLOPS.items():
        if key in device_name:
            return value
    return float("nan")


def measure(args: argparse.Namespace) -> dict:
    """Step time, peak memory, FLOPs per step and MFU of ``roma`` at ``args.size``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from roma_bench.data.datasets import TrainWindows
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore
    from roma_bench.registry import build_model
    from roma_bench.training.config import TrainConfig
    from roma_bench.training.distributed import TrainingObjective
    from roma_bench.training.loop import _autocast
    from roma_bench.training.normalization import harness_model
    from roma_bench.training.schedules import build_optimizer

    device = torch.device(args.device)
    store = TaskStore(args.store)
    store.card.batch.nodes = args.nodes
    windows = TrainWindows(store, seed=0)
    config = TrainConfig(model_name="roma", size=args.size, task=store.card.name,
                         steps=args.warmup + args.steps + 1, device=args.device)  # fmt: skip
    torch.manual_seed(0)
    spec = task_spec(store.card, "forecast", str(args.store))
    model = build_model("roma", spec, args.size).to(device)
    harness = harness_model(model, dict(store.normalization), config.normalization)
    autocast, scaler = _autocast(device, enabled=True)
    objective = TrainingObjective(harness, config, autocast)
    optimizer, _ = build_optimizer(model.parameters(), config.optim, config.steps)
    batches = [windows[k].to(device) for k in range(args.warmup + args.steps + 1)]

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step(batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(batch)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
        else:
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.grad_clip or 1e9)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()

    counter = FlopCounterMode(display=False)
    with counter:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(batches[0])
        loss.backward()
    flops = counter.get_total_flops()
    for batch in batches[1 : 1 + args.warmup]:
        step(batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for batch in batches[1 + args.warmup :]:
        sync()
        start = time.perf_counter()
        step(batch)
        sync()
        times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = peak_tflops(name, args.peak_tflops)
    return {
        "device": name,
        "torch": torch.__version__,
        "size": args.size,
        "parameters": model.num_parameters(),
        "nodes": batches[0].num_nodes,
        "amp_dtype": str(autocast.fast_dtype) if hasattr(autocast, "fast_dtype") else "float32",
        "step_s_median": step_s,
        "peak_memory_mib": (torch.cuda.max_memory_allocated(device) / 2**20)
        if device.type == "cuda" else float("nan"),
        "flops_per_step": flops,
        "achieved_tflops": flops / step_s / 1e12,
        "peak_tflops": peak,
        "mfu": flops / step_s / 1e12 / peak,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "data" / "km-tiny.h5")
    parser.add_argument("--size", default="B", help="ROMA size preset (default B)")
    parser.add_argument("--nodes", type=int, default=512, help="training subgraph nodes")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke run)")
    parser.add_argument("--peak-tflops", type=float, help="the device's peak dense bf16 TFLOP/s")
    parser.add_argument("--no-tests", action="store_true", help="skip pytest -m cuda")
    args = parser.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py: torch sees no CUDA device (use --device cpu for a smoke run)",
              file=sys.stderr)  # fmt: skip
        return 2
    if not args.store.exists():
        print(f"benchmarks/gpu.py: no store at {args.store}; run `roma-bench generate km-tiny` "
              "or pass --store", file=sys.stderr)  # fmt: skip
        return 2
    print(json.dumps(measure(args), indent=1))
    if args.no_tests:
        return 0
    command = [sys.executable, "-m", "pytest", "-m", "cuda", "tests/gpu", "-q", "-rs"]
    return subprocess.run(command, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
