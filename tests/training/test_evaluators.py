"""The OGB-style evaluator: shape and finiteness checks with exact messages; scores; rollouts."""

from __future__ import annotations

import harness_doubles as doubles
import pytest
import torch

from roma_bench.models.base import ModelOutput
from roma_bench.training import metrics
from roma_bench.training.evaluate import evaluate_model, rollout
from roma_bench.training.evaluators import EvaluationError, TaskEvaluator


@pytest.fixture
def batch():
    return doubles.make_batch(3, future=True)


def test_rejects_wrong_shape_saying_what_it_expected(batch):
    evaluator = TaskEvaluator(doubles.make_spec())
    with pytest.raises(EvaluationError) as err:
        evaluator.check(torch.zeros(batch.num_nodes, 3), batch)
    message = str(err.value)
    assert "prediction has shape [24, 3], expected [24, 2]" in message
    assert "finite float tensor [n=24, H=2] of unwrapped phases" in message


def test_rejects_nan_with_its_position(batch):
    evaluator = TaskEvaluator(doubles.make_spec())
    prediction = batch.target.clone()
    prediction[5, 1] = float("nan")
    prediction[7, 0] = float("inf")
    with pytest.raises(EvaluationError, match=r"2 non-finite value\(s\) .*first at index \[5, 1\]"):
        evaluator.score(ModelOutput(prediction=prediction), batch)


def test_rejects_bad_coarse_prediction(batch):
    evaluator = TaskEvaluator(doubles.make_spec())
    output = ModelOutput(prediction=batch.target.clone(), coarse_prediction=torch.zeros(3, 2, 1))
    with pytest.raises(
        EvaluationError, match=r"coarse_prediction has shape \[3, 2, 1\], expected \[3, 2, 2\]"
    ):
        evaluator.check(output, batch)
    with pytest.raises(EvaluationError, match=r"dtype torch\.int64"):
        evaluator.check(torch.zeros(batch.num_nodes, 2, dtype=torch.long), batch)


def test_perfect_prediction_scores_zero(batch):
    scores = TaskEvaluator(doubles.make_spec()).score(batch.target.clone(), batch)
    for name in ("smspe", "nrmse", "phase_error", "order_parameter_error", "coarse_error"):
        assert scores[name] == pytest.approx(0.0, abs=1e-6), name


def test_social_task_has_no_phase_metrics():
    batch = doubles.make_batch(4, system="social")
    scores = TaskEvaluator(doubles.make_spec("social")).score(batch.target.clone(), batch)
    assert "phase_error" not in scores and scores["coarse_smspe"] == pytest.approx(0.0, abs=1e-9)


class ShiftByOne(torch.nn.Module):
    """Predicts ``x_κ + 1, x_κ + 2, …``: a rollout of h frames must end at ``x_κ + h``."""

    def forward(self, batch):
        steps = torch.arange(1, batch.horizon + 1, dtype=torch.float32)
        return ModelOutput(prediction=batch.history[:, -1:] + steps)


def test_rollout_feeds_predictions_back(batch):
    predicted = rollout(ShiftByOne(), batch, 5)
    expected = batch.history[:, -1:] + torch.arange(1, 6, dtype=torch.float32)
    assert torch.allclose(predicted, expected)


def test_rollout_scores_use_the_future(batch):
    model = doubles.HarnessPersistence(doubles.HarnessPersistence.Config(), doubles.make_spec())
    scores = evaluate_model(model, [batch], doubles.make_spec())
    for h in metrics.ROLLOUT_HORIZONS:
        want = metrics.nrmse(batch.history[:, -1], batch.future[:, h - 1])
        assert scores[metrics.rollout_metric_name(h)] == pytest.approx(float(want), rel=1e-5)
