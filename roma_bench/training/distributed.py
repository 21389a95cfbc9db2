"""Data-parallel training under ``torchrun``: the process group, rank 0's duties, the DDP step.

``torchrun --nproc_per_node N -m roma_bench train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`init_distributed`
reads them and joins the process group (``gloo`` on CPU, ``nccl`` on CUDA, device
``cuda:LOCAL_RANK``). At global step ``s`` rank ``r`` of ``w`` trains on item ``s·w + r`` of
the task's training stream (:func:`roma_bench.data.datasets.rank_item`), so the ``w`` ranks of
step ``s`` see ``w`` distinct batches and their gradients are averaged by
:class:`~torch.nn.parallel.DistributedDataParallel`:

    g_s = (1/w) Σ_r ∇L(θ; batch_{s·w+r})

Every rank holds the same weights and optimizer state; only rank 0 writes to MLflow, the run
folder (checkpoints, run record) and result files (:class:`SilentRun` stands in elsewhere).
The effective batch is ``nodes per step × w`` (tag ``roma.effective_batch_nodes``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from roma_bench.config import ConfigError
from roma_bench.training.losses import training_loss


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the job: ``rank`` of ``world_size``, ``local_rank`` on its node.

    ``owns_group``: this process initialized the process group (and tears it down).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE_PROCESS = DistributedContext()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment {name}={value!r}: expected an integer") from None


def init_distributed(device: torch.device) -> tuple[DistributedContext, torch.device]:
    """Join the torchrun process group named by the environment (a no-op for ``WORLD_SIZE≤1``).

    Returns the context and the device this rank trains on (``cuda:LOCAL_RANK`` on CUDA).
    """
    import torch.distributed as dist

    world_size = _env_int("WORLD_SIZE", 1)
    if world_size <= 1:
        return SINGLE_PROCESS, device
    rank, local_rank = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(
                f"LOCAL_RANK={local_rank}: this node has {torch.cuda.device_count()} CUDA "
                "device(s); start at most that many processes per node (--nproc_per_node)"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.get_world_size() != world_size:
        raise ConfigError(
            f"WORLD_SIZE={world_size} but the process group has {dist.get_world_size()} ranks"
        )
    return DistributedContext(rank, world_size, local_rank, owns), device


def shutdown_distributed(context: DistributedContext) -> None:
    """Wait for every rank, then destroy the process group if this process created it."""
    import torch.distributed as dist

    if context.enabled and dist.is_initialized():
        dist.barrier()
        if context.owns_group:
            dist.destroy_process_group()


def broadcast_from_main(value: Any, context: DistributedContext) -> Any:
    """Rank 0's ``value`` on every rank (a picklable object, e.g. the MLflow run id)."""
    if not context.enabled:
        return value
    import torch.distributed as dist

    box = [value if context.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def mean_over_ranks(value: float, context: DistributedContext) -> float:
    """The mean of a scalar over the ranks (the logged loss and the divergence guard's input)."""
    if not context.enabled:
        return value
    import torch.distributed as dist

    total = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / context.world_size


class TrainingObjective(nn.Module):
    """``batch → (loss, parts)``: the harness forward (under autocast) plus the training loss.

    The module DDP wraps, so that DDP's forward sees the whole graph from parameters to the
    scalar loss (unused parameters, e.g. a head the learning task skips, are then found).
    """

    def __init__(self, harness: nn.Module, config: Any, autocast: Any) -> None:
        super().__init__()
        self.harness = harness
        self.config = config
        self.autocast = autocast

    def forward(self, batch) -> tuple[Tensor, dict[str, float]]:
        with self.autocast:
            forward = self.harness.run(batch)
        return training_loss(forward, batch, self.config.loss, self.harness.spec.learning_task)


def data_parallel(objective: TrainingObjective, context: DistributedContext) -> nn.Module:
    """``objective`` wrapped in :class:`DistributedDataParallel` (as is for one process).

    DDP broadcasts rank 0's parameters and buffers at construction, so every rank starts
    from the same weights, and averages gradients over the ranks in ``backward()``.
    """
    if not context.enabled:
        return objective
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(objective, find_unused_parameters=True)


class SilentRun:
    """Stands in for :class:`~roma_bench.tracking.runs.TrackedRun` on ranks other than 0."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def __enter__(self) -> SilentRun:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def log_params(self, params: Any) -> None:
        return None

    def log_metrics(self, values: Any, step: int | None = None) -> None:
        return None

    def log_metric_series(self, series: Any) -> None:
        return None

    def set_tags(self, tags: Any) -> None:
        return None

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        return None

    def finish(self, status: str = "FINISHED") -> None:
        return None
