"""The OGB-style evaluator: shape and finiteness checks with exact messages; scores; rollouts."""

from __future__ import annotations

import dataclasses
import math

import harness_doubles as doubles
import pytest
import torch

from roma_bench import metric_names
from roma_bench.models.base import ModelOutput
from roma_bench.training import metrics
from roma_bench.training.evaluate import evaluate_model, rollout, rollout_scores
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
    """Kuramoto rollouts are scored on changes from θ(t0): persistence predicts no change (1)."""
    model = doubles.HarnessPersistence(doubles.HarnessPersistence.Config(), doubles.make_spec())
    scores = evaluate_model(model, [batch], doubles.make_spec())
    for h in metric_names.ROLLOUT_HORIZONS:
        square = float((batch.future[:, h - 1] - batch.history[:, -1]).double().square().mean())
        want = math.sqrt(square / (square + metrics.NRMSE_EPS))  # 1 up to ε
        assert scores[metric_names.rollout_metric_name(h)] == pytest.approx(want, rel=1e-6)
    social = doubles.make_batch(3, system="social", future=True)
    spec = doubles.make_spec("social")
    scores = evaluate_model(doubles.HarnessPersistence(model.config, spec), [social], spec)
    for h in metric_names.ROLLOUT_HORIZONS:
        want = metrics.nrmse(social.history[:, -1], social.future[:, h - 1])
        assert scores[metric_names.rollout_metric_name(h)] == pytest.approx(float(want), rel=1e-5)


def _two_node_rollout(system: str):
    """Origin x_t0 = (0, 10); truth at t0+1 = (1, 12); a rollout predicting (2, 12)."""
    batch = doubles.make_batch(0, n=2, system=system, future=True)
    history = torch.tensor([[0.0, 0.0], [9.0, 10.0]])
    future = torch.tensor([[1.0], [12.0]])
    return dataclasses.replace(batch, history=history, future=future), torch.tensor([[2.0], [12.0]])


def test_kuramoto_rollout_nrmse_is_on_changes_from_the_origin_by_hand():
    batch, predicted = _two_node_rollout("kuramoto")
    # changes: predicted (2, 2), true (1, 2) → sqrt(((1² + 0²)/2) / ((1² + 2²)/2))
    scores = rollout_scores(predicted, batch, [1])
    assert scores["rollout_nrmse_h1"] == pytest.approx(math.sqrt(0.5 / (2.5 + 1e-7)), rel=1e-9)
    shifted = dataclasses.replace(
        batch, history=batch.history + 2 * math.pi, future=batch.future + 2 * math.pi
    )
    again = rollout_scores(predicted + 2 * math.pi, shifted, [1])["rollout_nrmse_h1"]
    assert again == pytest.approx(scores["rollout_nrmse_h1"], rel=1e-6)


def test_social_rollout_nrmse_is_on_the_field_by_hand():
    batch, predicted = _two_node_rollout("social")
    # field: predicted (2, 12), true (1, 12) → sqrt(((1² + 0²)/2) / ((1² + 12²)/2))
    scores = rollout_scores(predicted, batch, [1])
    assert scores["rollout_nrmse_h1"] == pytest.approx(math.sqrt(0.5 / (72.5 + 1e-7)), rel=1e-9)


def test_delta_nrmse_is_offset_free_and_smspe_is_not(batch):
    """Adding 2π to some nodes' phases leaves delta_nrmse unchanged; sMSPE moves."""
    evaluator = TaskEvaluator(doubles.make_spec())
    prediction = batch.target + 0.05 * torch.randn(batch.target.shape, generator=torch.Generator())
    offset = torch.zeros(batch.num_nodes, 1)
    offset[::3] = 2 * math.pi
    shifted = dataclasses.replace(
        batch, history=batch.history + offset, target=batch.target + offset
    )
    before = evaluator.score(prediction, batch)
    after = evaluator.score(prediction + offset, shifted)
    assert after["delta_nrmse"] == pytest.approx(before["delta_nrmse"], rel=1e-5)
    assert after["phase_error"] == pytest.approx(before["phase_error"], rel=1e-4)
    assert abs(after["smspe"] - before["smspe"]) > 0.05 * before["smspe"]
    # and it is nRMSE of the changes from the last observed frame
    last = batch.history[:, -1:]
    want = metrics.nrmse(prediction - last, batch.target - last)
    assert before["delta_nrmse"] == pytest.approx(float(want), rel=1e-5)
