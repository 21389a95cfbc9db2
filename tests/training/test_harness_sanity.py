"""Harness sanity check: a linear model trained by the normal loop against the closed-form AR fit.

``LinearAutoregression`` (test-only, never registered outside these tests) is
``f = W · x̃ + b`` on the harness's normalized history ``x̃ = (x − x_t0)/s``, zero-initialized.
Its function class is exactly the pooled least-squares autoregression on the last κ−1
increments (``x̃`` spans them), so the closed-form fit on the training split is the optimum
the loop should reach. Scores are the nRMSE of the predicted change from the last frame,
``sqrt(Σ (ŷ − x_t0 − (y − x_t0))² / Σ (y − x_t0)²)`` over every test window and node
(offset-free; persistence scores 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from roma_bench import registry
from roma_bench.models.base import ForecastModel, ModelOutput, load_checkpoint
from roma_bench.training.config import TrainConfig
from roma_bench.training.data import open_task_data
from roma_bench.training.fit import train
from roma_bench.training.normalization import harness_model

#: Fixed budget of the sanity run (default optimizer, schedule, loss and normalization).
SANITY_STEPS = 300


class LinearAutoregression(ForecastModel):
    """``f = W x̃ + b`` ``[n, κ] → [n, H]``, zero-initialized (test-only)."""

    name = "test-linear-ar"

    def __init__(self, config, spec) -> None:
        super().__init__(config, spec)
        self.linear = nn.Linear(spec.lookback, spec.horizon)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, batch) -> ModelOutput:
        return ModelOutput(prediction=self.linear(batch.history))


def change_nrmse(predict, batches) -> float:
    """nRMSE of the predicted change ``ŷ − x_t0`` pooled over ``batches`` (module docstring)."""
    num = den = 0.0
    for batch in batches:
        last = batch.history[:, -1:].double()
        change = predict(batch).double() - last
        truth = batch.target.double() - last
        num += float((change - truth).square().sum())
        den += float(truth.square().sum())
    return (num / den) ** 0.5


def least_squares_ar(store) -> np.ndarray:
    """``[κ−1, H]`` coefficients of ``y_{t0+h} − x_t0 = Σ_k c_{k,h} (x_k − x_t0)`` over every
    training node and every training window (closed form, numpy lstsq)."""
    card = store.card
    kappa, horizon = card.window.lookback, card.window.horizon
    stop = card.frame_ranges["train"][1]
    rows = store.read_field(store.split.train.numpy(), 0, stop).astype(np.float64)
    starts = range(kappa - 1, stop - horizon)
    x = np.concatenate([rows[:, t - kappa + 1 : t] - rows[:, t : t + 1] for t in starts])
    y = np.concatenate([rows[:, t + 1 : t + 1 + horizon] - rows[:, t : t + 1] for t in starts])
    return np.linalg.lstsq(x, y, rcond=None)[0]


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


def _ar_floor(data) -> tuple[np.ndarray, float]:
    coef = least_squares_ar(data.store)

    def predict(batch):
        history = batch.history.double()
        last = history[:, -1:]
        return last + torch.from_numpy((history[:, :-1] - last).numpy() @ coef)

    return coef, change_nrmse(predict, data.eval_batches("test"))


def test_the_ar_optimum_through_the_harness_scores_the_ar_floor(km_tiny) -> None:
    """The closed-form weights in the test model, run through normalize → model → decode,
    score exactly what the numpy fit scores: the normalization and decoding lose nothing."""
    coef, floor = _ar_floor(km_tiny)
    spec = km_tiny.spec
    model = LinearAutoregression(None, spec)
    with torch.no_grad():
        model.linear.weight[:, :-1] = torch.from_numpy(coef.T).float()  # x̃ is x/s, ỹ is y/s
    harness = harness_model(model, km_tiny.normalization, "increments").eval()
    with torch.no_grad():
        through = change_nrmse(lambda b: harness(b).prediction, km_tiny.eval_batches("test"))
    persistence = change_nrmse(
        lambda b: b.history[:, -1:].expand_as(b.target), km_tiny.eval_batches("test")
    )
    assert persistence == pytest.approx(1.0)
    assert 0.0 < floor < 0.5  # km-tiny is forecastable: the AR floor is far below persistence
    assert through == pytest.approx(floor, rel=1e-3)


@pytest.mark.xfail(
    strict=True,
    reason="measured: after 300 default steps the linear model scores 0.49 against the AR "
    "floor's 0.094 (600 steps: 0.43; lr 0.1: 0.22). The normalized offsets' Gram matrix "
    "has eigenvalues from 2e-7 to 960, and the AR optimum lives in the small ones "
    "(see /work/notes/harness.md); strict, so a fix shows up as XPASS",
)
def test_linear_model_trained_by_the_loop_reaches_the_ar_floor(km_tiny, tmp_path) -> None:
    """Default optimizer, schedule, loss (MSE of normalized targets) and normalization, a
    fixed step count, zero init: within 15% of the closed-form AR fit on the test split."""
    _, floor = _ar_floor(km_tiny)
    config = TrainConfig(
        model_name=LinearAutoregression.name, task="km-tiny", steps=SANITY_STEPS,
        device="cpu", plots=False, evaluate_test=False,
    )  # fmt: skip
    assert config.loss == "mse" and config.normalization == "increments"
    result = train(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", progress=False,
                   out_dir=tmp_path / "run")  # fmt: skip
    assert result.status == "FINISHED" and result.steps_done == SANITY_STEPS
    model, _ = load_checkpoint(result.checkpoint)
    harness = harness_model(model, km_tiny.normalization, "increments").eval()
    with torch.no_grad():
        trained = change_nrmse(lambda b: harness(b).prediction, km_tiny.eval_batches("test"))
    assert trained <= 1.15 * floor, f"trained {trained:.4g} vs AR floor {floor:.4g}"
