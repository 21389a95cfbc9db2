"""The training objective, from the metric formulas in :mod:`roma_bench.training.metrics`.

- forecast, ``mse`` (default): ``L = mse(f [n, H], ỹ [n, H]) + Σ aux`` on the harness's
  normalized targets ``ỹ = (y − x_t0)/s`` (:mod:`roma_bench.training.normalization`;
  raw targets when ``normalization = none`` or for floors)
- forecast, ``smspe`` (the ROMA paper's loss): ``L = smspe(ŷ, y) + Σ aux`` on the decoded
  prediction ``ŷ = x_t0 + s·f``
- effective: ``L = loss(ô [m, H, C], o [m, H, C]) + Σ aux`` where ``ô`` is the model's
  coarse prediction or its *decoded* fine prediction aggregated by the coarse assignment

``aux`` are the model's already-weighted auxiliary losses (``ModelOutput.aux_losses``).
"""

from __future__ import annotations

from torch import Tensor

from roma_bench.data.batch import Batch
from roma_bench.training.evaluators import coarse_prediction_of
from roma_bench.training.metrics import LOSSES
from roma_bench.training.normalization import HarnessForward


def training_loss(
    forward: HarnessForward, batch: Batch, loss: str, learning_task: str
) -> tuple[Tensor, dict[str, float]]:
    """Total loss (differentiable, float32) and its parts as floats for logging.

    ``forward`` is :meth:`HarnessModel.run` on the raw ``batch``.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {', '.join(LOSSES)}")
    metric, output = LOSSES[loss], forward.output
    if learning_task == "effective":
        coarse = coarse_prediction_of(forward.decoded, batch)
        data_loss = metric(coarse.float(), batch.coarse_target.float())
    elif learning_task == "forecast" and loss == "mse":
        data_loss = metric(output.prediction.float(), forward.model_batch.target.float())
    elif learning_task == "forecast":
        data_loss = metric(forward.decoded.prediction.float(), batch.target.float())
    else:
        raise ValueError(f"unknown learning task {learning_task!r}; expected forecast or effective")
    total = data_loss
    parts = {"data_loss": float(data_loss.detach())}
    for name, value in output.aux_losses.items():
        total = total + value.float()
        parts[f"aux_{name}"] = float(value.detach())
    return total, parts
