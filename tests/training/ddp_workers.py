"""Process bodies for the DDP tests: each rank runs the real ``train()`` under a gloo group."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import torch


class SimulatedKillError(RuntimeError):
    """Raised inside a training step to stand in for a killed job."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_rank(
    rank: int,
    world_size: int,
    port: int,
    config: dict,
    tracking: str,
    out_dir: str,
    data_dir: str,
    kill_at: int | None = None,
    resume: bool = False,
) -> None:
    """Rank ``rank`` of a ``world_size``-process torchrun-like job calling ``train(config)``."""
    os.environ.update(
        RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), ROMA_BENCH_DATA=data_dir,
        ROMA_BENCH_RUNS=str(Path(out_dir).parent / "runs"),
    )  # fmt: skip
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    torch.set_num_threads(1)
    from roma_bench.training.config import TrainConfig
    from roma_bench.training.fit import train
    from roma_bench.training.loop import TrainingLoop

    if kill_at is not None:
        step = TrainingLoop.train_step

        def dying_step(self):
            if self.step == kill_at:
                raise SimulatedKillError(f"killed before step {kill_at}")
            return step(self)

        TrainingLoop.train_step = dying_step
    with contextlib.suppress(SimulatedKillError):  # the "killed" job leaves its checkpoint
        train(TrainConfig(**config), tracking_uri=tracking, progress=False, out_dir=Path(out_dir),
              resume=resume)  # fmt: skip
