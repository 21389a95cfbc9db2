"""OGB-style evaluators: validate a submission's format, say what was expected, then score it.

One :class:`TaskEvaluator` per (task, learning task). ``check`` rejects a
prediction of the wrong shape or with non-finite values, naming exactly what it
expected; ``score`` then computes every metric of :mod:`roma_bench.training.metrics`
that applies to the task on one held-out batch (the change metrics on changes from the
batch's last observed frame)::

    evaluator = TaskEvaluator(spec)
    print(evaluator.expected_format(batch))
    scores = evaluator.score(model(batch), batch)   # {"smspe": ..., "delta_nrmse": ..., ...}
"""

from __future__ import annotations

import torch
from torch import Tensor

from roma_bench.data.batch import Batch
from roma_bench.dynamics.observables import coarse_observables
from roma_bench.models.base import ModelOutput, TaskSpec
from roma_bench.training import metrics


class EvaluationError(ValueError):
    """A prediction that cannot be scored; the message says what was expected and what came."""


def coarse_prediction_of(output: ModelOutput, batch: Batch) -> Tensor:
    """``[m, H, C]`` coarse prediction: the model's own, or its fine prediction aggregated.

    Aggregation is :func:`roma_bench.dynamics.observables.coarse_observables` over
    ``batch.coarse_assignment`` (the same map that made ``batch.coarse_target``).
    """
    if output.coarse_prediction is not None:
        return output.coarse_prediction
    return coarse_observables(
        output.prediction, batch.coarse_assignment, batch.num_parts, batch.system
    )


class TaskEvaluator:
    """Checks and scores predictions for one task (its :class:`TaskSpec`)."""

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self.name = f"{spec.name} v{spec.version} ({spec.learning_task})"

    def expected_format(self, batch: Batch) -> str:
        """A sentence describing the prediction this evaluator accepts for ``batch``."""
        n, H, m, C = batch.num_nodes, self.spec.horizon, batch.num_parts, self.spec.coarse_channels
        what = "unwrapped phases θ" if self.spec.system == "kuramoto" else "activity u"
        return (
            f"prediction: finite float tensor [n={n}, H={H}] of {what} at frames "
            f"t0+1..t0+{H}; optional coarse_prediction: finite float tensor [m={m}, H={H}, C={C}]"
        )

    def _check_tensor(
        self, label: str, value: object, shape: tuple[int, ...], batch: Batch
    ) -> None:
        if not isinstance(value, Tensor):
            raise EvaluationError(
                f"evaluator {self.name}: {label} must be a torch tensor, got "
                f"{type(value).__name__}; expected {self.expected_format(batch)}"
            )
        if tuple(value.shape) != shape:
            raise EvaluationError(
                f"evaluator {self.name}: {label} has shape {list(value.shape)}, expected "
                f"{list(shape)}; expected {self.expected_format(batch)}"
            )
        if not value.is_floating_point():
            raise EvaluationError(
                f"evaluator {self.name}: {label} has dtype {value.dtype}, expected a float dtype"
            )
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            first = tuple(int(i) for i in bad.nonzero()[0])
            raise EvaluationError(
                f"evaluator {self.name}: {label} has {int(bad.sum())} non-finite value(s) "
                f"(NaN or inf; first at index {list(first)}); expected finite values"
            )

    def check(self, output: ModelOutput | Tensor, batch: Batch) -> ModelOutput:
        """Validate ``output`` for ``batch``; returns it as a :class:`ModelOutput`."""
        if isinstance(output, Tensor):
            output = ModelOutput(prediction=output)
        if not isinstance(output, ModelOutput):
            raise EvaluationError(
                f"evaluator {self.name}: expected a ModelOutput or a tensor, got "
                f"{type(output).__name__}"
            )
        self._check_tensor(
            "prediction", output.prediction, (batch.num_nodes, self.spec.horizon), batch
        )
        if output.coarse_prediction is not None:
            shape = (batch.num_parts, self.spec.horizon, self.spec.coarse_channels)
            self._check_tensor("coarse_prediction", output.coarse_prediction, shape, batch)
        return output

    def score(self, output: ModelOutput | Tensor, batch: Batch) -> dict[str, float]:
        """Check then score ``output`` on ``batch`` (clean targets); one float per metric."""
        output = self.check(output, batch)
        prediction = output.prediction.detach().float()
        target = batch.target.float()
        scores: dict[str, float] = {}
        for name, metric in metrics.FINE_METRICS.items():
            scores[name] = float(metric(prediction, target))
        last = batch.history[:, -1:].double()  # x_t0; changes in float64 (|θ| ≫ its changes)
        predicted_change = metrics.changes_from(prediction.double(), last)
        true_change = metrics.changes_from(target.double(), last)
        for name, metric in metrics.CHANGE_METRICS.items():
            scores[name] = float(metric(predicted_change, true_change))
        if self.spec.system == "kuramoto":
            for name, metric in metrics.KURAMOTO_METRICS.items():
                scores[name] = float(metric(prediction, target))
        coarse = coarse_prediction_of(
            ModelOutput(prediction=prediction, coarse_prediction=output.coarse_prediction), batch
        ).detach()
        for name, metric in metrics.COARSE_METRICS.items():
            scores[name] = float(metric(coarse.float(), batch.coarse_target.float()))
        residual = output.diagnostics.get("pde_residual")
        if residual is not None:
            scores["pde_residual"] = float(residual.detach().float().mean())
        return scores
