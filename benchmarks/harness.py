"""A :class:`~roma_bench.training.loop.TrainingLoop` for benchmarks, built as training builds it.

No environment is set here: a benchmark that compares thread settings passes them to a fresh
process, and this module must not override them (``roma_bench`` is imported before torch, so
its ``OMP_WAIT_POLICY`` default applies as in the CLI).
"""

from __future__ import annotations

from pathlib import Path

from roma_bench.registry import build_model
from roma_bench.training.config import TrainConfig
from roma_bench.training.data import open_task_data
from roma_bench.training.distributed import SilentRun
from roma_bench.training.loop import TrainingLoop


def training_loop(model_name: str, task: str, steps: int, workers: int, out: Path) -> TrainingLoop:
    """The CPU training loop of ``model_name`` (tiny) on ``task``, room for ``10·steps`` steps.

    ``workers``: DataLoader worker processes (``TrainConfig.num_workers``); ``out``: the run
    folder. No validation plots, no mixed precision, no tracking (a silent run)."""
    import torch

    config = TrainConfig(
        model_name=model_name, task=task, steps=10 * steps + 10, device="cpu", amp=False,
        num_workers=workers, plots=False,
    )  # fmt: skip
    data = open_task_data(task, progress=False)
    model = build_model(model_name, data.spec, config.size)
    return TrainingLoop(
        config, model, data, torch.device("cpu"), SilentRun("bench"), out, None, False, True
    )
