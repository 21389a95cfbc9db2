"""Harness sanity check: a linear model trained by the normal loop against the closed-form AR fit.

``LinearAutoregression`` (test-only, never registered outside these tests) is
``f = W · node_inputs + b`` on the harness's inputs (the normalized history
``x̃ = (x − x_t0)/s``, its scaled backward differences and the offset-free state),
zero-initialized. Its function class contains that of the ``ar`` floor, the pooled
least-squares autoregression on the last κ−1 increments with an intercept (``x̃`` spans
them), so ``ar``'s closed-form fit on the training split is the optimum the loop should
reach (the state adds cos/sin θ_t0, which a linear map cannot turn into a better forecast). Scores are the
card's primary metric on the test split (km-tiny: ``delta_nrmse``, the nRMSE of the
predicted change from the last frame; persistence scores 1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from roma_bench import registry
from roma_bench.models.base import ForecastModel, ModelOutput, load_checkpoint
from roma_bench.models.inputs import input_width, node_inputs
from roma_bench.registry import build_model
from roma_bench.training.config import TrainConfig
from roma_bench.training.data import open_task_data
from roma_bench.training.evaluate import evaluate_model
from roma_bench.training.fit import train
from roma_bench.training.normalization import harness_model

#: Fixed budget of the sanity run (default optimizer, schedule, loss and normalization).
SANITY_STEPS = 300
#: Its learning rate. The targets ``ỹ = (y − x_t0)/s`` are O(H) numbers, so the weights of a
#: linear model must travel O(1); AdamW moves each weight by about ``lr`` per step, so the
#: default 1e-3 (sized for deep networks) would need thousands of steps.
SANITY_LR = 0.05


class LinearAutoregression(ForecastModel):
    """``f = W · node_inputs + b`` ``[n, κ+p+S] → [n, H]``, zero-initialized (test-only)."""

    name = "test-linear-ar"

    def __init__(self, config, spec) -> None:
        super().__init__(config, spec)
        self.linear = nn.Linear(input_width(spec), spec.horizon)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, batch) -> ModelOutput:
        return ModelOutput(prediction=self.linear(node_inputs(batch)))


def offset_weights(coefficients: np.ndarray, scale: float) -> tuple[Tensor, Tensor]:
    """``ar``'s ``[A; b]`` (on increments ``δ_j = x_{j+1} − x_j`` plus an intercept, in field
    units) as the weights of ``f = W x̃ + c`` on offsets ``x̃_k = (x_k − x_t0)/s``:
    ``Σ_j a_j δ_j = Σ_k (a_{k−1} − a_k)(x_k − x_t0)`` (``a_0 = a_κ = 0``), ``c = b/s``."""
    a, b = coefficients[:-1], coefficients[-1]  # [κ−1, H], [H]
    padded = np.vstack([np.zeros_like(b), a, np.zeros_like(b)])  # a_0 … a_κ
    weight = (padded[:-1] - padded[1:]).T  # [H, κ]
    return torch.from_numpy(weight).float(), torch.from_numpy(b / scale).float()


@pytest.fixture
def km_tiny(km_tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    registry.load_plugins()
    monkeypatch.setitem(registry._MODELS, LinearAutoregression.name, LinearAutoregression)
    data = open_task_data("km-tiny", progress=False)
    yield data
    data.store.close()


def _primary(model, data) -> float:
    """The card's primary forecast metric (``delta_nrmse`` on km-tiny) on the test split."""
    primary = data.store.card.metrics.primary.forecast
    return evaluate_model(model, data.eval_batches("test"), data.spec)[primary]


def _ar_floor(data):
    """The registered ``ar`` floor (closed form on the training split) and its score."""
    floor = build_model("ar", replace(data.spec, data_path=str(data.path)))
    return floor, _primary(floor, data)


def test_the_ar_optimum_through_the_harness_scores_the_ar_floor(km_tiny) -> None:
    """``ar``'s closed-form weights in the test model, run through normalize → model →
    decode, score what ``ar`` scores: the normalization and decoding lose nothing."""
    floor_model, floor = _ar_floor(km_tiny)
    model = LinearAutoregression(None, km_tiny.spec)
    weight, bias = offset_weights(floor_model.fit(), km_tiny.normalization["increment_scale"])
    with torch.no_grad():
        model.linear.weight.zero_()
        model.linear.weight[:, : weight.shape[1]].copy_(weight)  # x̃ comes first
        model.linear.bias.copy_(bias)
    through = _primary(harness_model(model, km_tiny.normalization, "increments"), km_tiny)
    assert 0.0 < floor < 0.5  # km-tiny is forecastable: the AR floor is far below persistence
    assert through == pytest.approx(floor, rel=1e-3)
    assert _primary(build_model("persistence", km_tiny.spec), km_tiny) == pytest.approx(1, rel=1e-4)


def test_linear_model_trained_by_the_loop_reaches_the_ar_floor(km_tiny, tmp_path) -> None:
    """Default optimizer (AdamW, at ``SANITY_LR``), schedule, loss (MSE of normalized
    targets) and normalization, a fixed step count, zero init: within 15% of the
    closed-form AR fit on the test split."""
    _, floor = _ar_floor(km_tiny)
    config = TrainConfig(
        model_name=LinearAutoregression.name, task="km-tiny", steps=SANITY_STEPS,
        optim={"lr": SANITY_LR}, device="cpu", plots=False, evaluate_test=False,
    )  # fmt: skip
    assert config.loss == "mse" and config.normalization == "increments"
    result = train(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", progress=False,
                   out_dir=tmp_path / "run")  # fmt: skip
    assert result.status == "FINISHED" and result.steps_done == SANITY_STEPS
    model, _ = load_checkpoint(result.checkpoint)
    trained = _primary(harness_model(model, km_tiny.normalization, "increments"), km_tiny)
    print(f"sanity: loop-trained linear {trained:.4g} vs AR floor {floor:.4g}")
    assert trained <= 1.15 * floor, f"trained {trained:.4g} vs AR floor {floor:.4g}"
