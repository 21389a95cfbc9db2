"""Plots of a finished run (loss curves, rollouts vs truth, R(t)) and the reproduce command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from roma_bench.data.batch import Batch
from roma_bench.models.base import ForecastModel
from roma_bench.tracking import plots
from roma_bench.tracking.runs import flatten
from roma_bench.training.config import TrainConfig
from roma_bench.training.evaluate import rollout
from roma_bench.training.metrics import order_parameter_series

SAMPLE_NODES = 4


def command_for(config: TrainConfig) -> str:
    """The ``roma-bench train`` command line that reproduces ``config``.

    Fields that differ from their defaults appear as ``--set key=value``.
    """

    parts = [
        "roma-bench train",
        f"--model {config.model_name}",
        f"--task {config.task}",
        f"--size {config.size}",
        f"--seed {config.seed}",
        f"--steps {config.steps}",
    ]
    if config.learning_task != "forecast":
        parts.append(f"--learning-task {config.learning_task}")
    if config.device != "auto":
        parts.append(f"--device {config.device}")
    skip = {"model_name", "task", "size", "seed", "steps", "learning_task", "device"}
    default = flatten(TrainConfig(model_name=config.model_name, task=config.task).model_dump())
    for key, value in flatten(config.model_dump()).items():
        if key.split(".")[0] in skip or default.get(key) == value:
            continue
        parts.append(f"--set {key}={value}" if " " not in value else f"--set '{key}={value}'")
    return " ".join(parts)


@torch.no_grad()
def run_plots(
    model: ForecastModel,
    batch: Batch | None,
    history: dict[str, Any],
    out_dir: Path,
    title: str,
) -> list[Path]:
    """Write the run's PNGs under ``out_dir/plots``; returns their paths."""

    folder = Path(out_dir) / "plots"
    written = []
    if history.get("train") or history.get("val"):
        written.append(
            plots.loss_curves(history.get("train", []), history.get("val", []),
                              folder / "loss_curves.png", title)
        )  # fmt: skip
    if batch is None or batch.future is None:
        return written
    was_training = model.training
    model.eval()
    try:
        predicted = rollout(model, batch, batch.future.shape[1]).float().cpu()
    finally:
        model.train(was_training)
    truth = batch.future.float().cpu()
    count = min(SAMPLE_NODES, batch.num_nodes)
    picks = torch.linspace(0, batch.num_nodes - 1, count).long()
    written.append(
        plots.prediction_vs_truth(
            batch.history[picks].float().cpu().numpy(),
            truth[picks].numpy(),
            predicted[picks].numpy(),
            batch.frame_dt,
            folder / "prediction_vs_truth.png",
            f"{title}: rollout on held-out nodes",
            node_ids=[int(i) for i in batch.node_ids[picks].cpu()],
        )
    )
    if batch.system == "kuramoto":
        written.append(
            plots.order_parameter_curve(
                order_parameter_series(truth).numpy(),
                order_parameter_series(predicted).numpy(),
                batch.frame_dt,
                folder / "order_parameter.png",
                f"{title}: R(t) of the held-out nodes",
            )
        )
    return written
