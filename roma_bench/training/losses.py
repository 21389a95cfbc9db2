"""The training objective, from the metric formulas in :mod:`roma_bench.training.metrics`.

- forecast: ``L = loss(ŷ [n, H], y [n, H]) + Σ aux``
- effective: ``L = loss(ô [m, H, C], o [m, H, C]) + Σ aux`` where ``ô`` is the model's
  coarse prediction or its fine prediction aggregated by the batch's coarse assignment

``loss`` is ``smspe`` or ``mse`` (``TrainConfig.loss``); ``aux`` are the model's
already-weighted auxiliary losses (``ModelOutput.aux_losses``).
"""

from __future__ import annotations

from torch import Tensor

from roma_bench.data.batch import Batch
from roma_bench.models.base import ModelOutput
from roma_bench.training.evaluators import coarse_prediction_of
from roma_bench.training.metrics import LOSSES


def training_loss(
    output: ModelOutput, batch: Batch, loss: str, learning_task: str
) -> tuple[Tensor, dict[str, float]]:
    """Total loss (differentiable, float32) and its parts as floats for logging."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    metric = LOSSES[loss]
    if learning_task == "effective":
        data_loss = metric(coarse_prediction_of(output, batch).float(), batch.coarse_target.float())
    elif learning_task == "forecast":
        data_loss = metric(output.prediction.float(), batch.target.float())
    else:
        raise ValueError(f"unknown learning task {learning_task!r}; expected forecast or effective")
    total = data_loss
    parts = {"data_loss": float(data_loss.detach())}
    for name, value in output.aux_losses.items():
        total = total + value.float()
        parts[f"aux_{name}"] = float(value.detach())
    return total, parts
