"""Every metric against values computed by hand on small arrays; shape checks."""

from __future__ import annotations

import math

import pytest
import torch

from roma_bench import metric_names
from roma_bench.training import metrics

t = torch.tensor


def test_smspe_by_hand():
    # terms: |1-1|/(1+1+ε) = 0 and |2-0|/(2+0+ε) → mean of squares
    expected = 0.5 * (2 / (2 + 1e-4)) ** 2
    assert float(metrics.smspe(t([1.0, 0.0]), t([1.0, 2.0]))) == pytest.approx(expected, rel=1e-6)
    assert float(metrics.smspe(t([[-3.0]]), t([[3.0]]))) == pytest.approx((6 / (6 + 1e-4)) ** 2)
    assert float(metrics.smspe(t([5.0, 7.0]), t([5.0, 7.0]))) == 0.0


def test_nrmse_by_hand():
    # mse = (1² + 0²)/2 = 0.5, mean y² = 4 → sqrt(0.125)
    value = metrics.nrmse(t([1.0, -2.0]), t([2.0, -2.0]))
    assert float(value) == pytest.approx(math.sqrt(0.5 / (4 + 1e-7)), rel=1e-6)
    assert float(metrics.nrmse(torch.zeros(3), t([1.0, -2.0, 3.0]))) == pytest.approx(1.0, rel=1e-6)


def test_delta_nrmse_by_hand():
    last = t([[1.0], [10.0]])  # x_t0 of two nodes
    target = t([[2.0, 3.0], [10.0, 12.0]])  # changes (1, 2), (0, 2)
    prediction = t([[1.0, 3.0], [11.0, 12.0]])  # changes (0, 2), (1, 2)
    # errors (1, 0, 1, 0) → mse 0.5; mean squared true change (1 + 4 + 0 + 4)/4 = 2.25
    value = metrics.delta_nrmse(
        metrics.changes_from(prediction, last), metrics.changes_from(target, last)
    )
    assert float(value) == pytest.approx(math.sqrt(0.5 / (2.25 + 1e-7)), rel=1e-6)
    # persistence predicts no change: exactly 1 (up to ε)
    no_change = metrics.changes_from(last.expand(-1, 2), last)
    assert float(metrics.delta_nrmse(no_change, metrics.changes_from(target, last))) == (
        pytest.approx(1.0, rel=1e-6)
    )
    # a whole turn on one node changes nothing
    turn = t([[2 * math.pi], [0.0]])
    shifted = metrics.delta_nrmse(
        metrics.changes_from(prediction + turn, last + turn),
        metrics.changes_from(target + turn, last + turn),
    )
    assert float(shifted) == pytest.approx(float(value), rel=1e-6)


def test_changes_from_checks_the_origin_shape():
    assert torch.equal(metrics.changes_from(t([[3.0, 4.0]]), t([1.0])), t([[2.0, 3.0]]))
    with pytest.raises(ValueError, match=r"changes_from: origin shape \(3, 1\) does not fit"):
        metrics.changes_from(torch.zeros(2, 4), torch.zeros(3, 1))


def test_metric_names_per_system():
    assert "phase_error" in metric_names.metric_names("kuramoto")
    assert "phase_error" not in metric_names.metric_names("social")
    for system in ("kuramoto", "social"):
        names = metric_names.metric_names(system)
        assert {"delta_nrmse", "nrmse", "smspe", "coarse_error", "rollout_nrmse_h16"} <= set(names)


def test_mse_by_hand():
    assert float(metrics.mse(t([1.0, 3.0]), t([0.0, 0.0]))) == pytest.approx(5.0)


def test_circular_phase_error_ignores_whole_turns():
    theta = t([[0.1, 2.0], [-1.0, 4.0]])
    assert float(metrics.circular_phase_error(theta + 2 * math.pi, theta)) == pytest.approx(
        0, abs=1e-6
    )
    assert float(metrics.circular_phase_error(theta + math.pi / 2, theta)) == pytest.approx(
        math.pi / 2, rel=1e-5
    )
    # +3π/2 is −π/2 on the circle
    assert float(metrics.circular_phase_error(theta + 1.5 * math.pi, theta)) == pytest.approx(
        math.pi / 2, rel=1e-5
    )


def test_order_parameter_error_by_hand():
    synced = t([[0.3, 1.0], [0.3, 1.0]])  # R = 1 at both frames
    opposed = t([[0.0, 0.0], [math.pi, math.pi / 2]])  # R = 0, then |1 + i|/2 = √2/2
    expected = (1.0 + (1 - math.sqrt(2) / 2)) / 2
    assert float(metrics.order_parameter_error(synced, opposed)) == pytest.approx(
        expected, rel=1e-5
    )


def test_coarse_observable_error_is_nrmse_over_parts_frames_channels():
    target = t([[[1.0, 0.0]], [[0.0, 1.0]]])  # [m=2, T=1, C=2]
    prediction = t([[[0.0, 0.0]], [[0.0, 1.0]]])
    expected = math.sqrt((1 / 4) / (2 / 4 + 1e-7))
    assert float(metrics.coarse_observable_error(prediction, target)) == pytest.approx(
        expected, rel=1e-6
    )
    with pytest.raises(ValueError, match="expected 3-d tensors"):
        metrics.coarse_observable_error(torch.zeros(2, 1), torch.zeros(2, 1))


@pytest.mark.parametrize(
    "metric",
    [
        metrics.smspe,
        metrics.nrmse,
        metrics.delta_nrmse,
        metrics.mse,
        metrics.circular_phase_error,
        metrics.order_parameter_error,
    ],
)
def test_every_metric_checks_shapes(metric):
    with pytest.raises(ValueError, match=r"prediction shape \(3, 2\) != target shape \(3, 4\)"):
        metric(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(TypeError, match="expected torch tensors"):
        metric([0.0], torch.zeros(1))


def test_the_named_metrics_are_the_evaluators_tables():
    """roma_bench.metric_names (read by cards and boards) names exactly the scored tables."""
    assert tuple(metrics.FINE_METRICS) == metric_names.FINE_METRIC_NAMES
    assert tuple(metrics.CHANGE_METRICS) == metric_names.CHANGE_METRIC_NAMES
    assert tuple(metrics.KURAMOTO_METRICS) == metric_names.KURAMOTO_METRIC_NAMES
    assert tuple(metrics.COARSE_METRICS) == metric_names.COARSE_METRIC_NAMES
    assert set(metric_names.metric_names("social")) >= metric_names.PAPER_METRICS
    board = metric_names.BOARD_METRICS
    assert len(set(board)) == len(board)
    assert set(board) == {*metric_names.metric_names("kuramoto"), metric_names.PDE_RESIDUAL}
