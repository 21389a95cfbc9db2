"""Fingerprint of trained weights, for refactors that must not change behaviour.

Trains gcn and roma (tiny) on km-tiny with a fixed seed, one thread and no AMP, then
prints the SHA-256 of each model's weights (every tensor of the state dict in name
order, as float64 bytes). Run it on the commit before a refactor and after it: equal
hashes mean the refactor did not change what training computes.

    OMP_NUM_THREADS=1 python benchmarks/weight_hashes.py [--steps 40]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from safetensors.torch import load_file

from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import train


def weights_hash(checkpoint: Path) -> str:
    """SHA-256 over a checkpoint's tensors (sorted by name) as float64 bytes."""
    digest = hashlib.sha256()
    for name, tensor in sorted(load_file(str(checkpoint)).items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to(torch.float64).cpu().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--models", nargs="+", default=["gcn", "roma"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            config = TrainConfig(
                model_name=name, task="km-tiny", seed=7, steps=args.steps, val_every=20,
                checkpoint_every=args.steps, device="cpu", amp=False, plots=False,
                evaluate_test=False,
            )  # fmt: skip
            result = train(
                config, tracking_uri=f"sqlite:///{Path(tmp, 'mlflow.db')}", progress=False,
                out_dir=Path(tmp, name),
            )  # fmt: skip
            print(f"{name}: {weights_hash(result.checkpoint)}  ({result.checkpoint.name})")


if __name__ == "__main__":
    main()
