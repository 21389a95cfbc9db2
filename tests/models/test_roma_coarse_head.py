"""ROMA's own coarse head for the effective learning task: shapes, units and gradient path."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from roma_helpers import behind_harness, make_batch, make_spec

from roma_bench.dynamics.observables import coarse_observables
from roma_bench.registry import build_model
from roma_bench.training.losses import training_loss


def effective_spec(system: str):
    return replace(make_spec(system), learning_task="effective")


@pytest.mark.parametrize("system", ["kuramoto", "social"])
def test_coarse_head_shapes_and_units(system: str) -> None:
    spec = effective_spec(system)
    torch.manual_seed(0)
    model = build_model("roma", spec, "tiny")
    assert model.coarse_head is not None
    batch = make_batch(spec)
    forward = behind_harness(model).run(batch)
    m, C = batch.num_parts, spec.coarse_channels
    assert forward.output.coarse_prediction.shape == (m, spec.horizon, C)
    assert forward.decoded.coarse_prediction.shape == (m, spec.horizon, C)
    # with a zero readout the head predicts the card's observables at t0 in field units
    # (social: the harness multiplies the state's u/ℓ back by ℓ)
    torch.nn.init.zeros_(model.coarse_head.readout.weight)
    decoded = behind_harness(model)(batch).coarse_prediction
    now = coarse_observables(batch.history[:, -1:], batch.coarse_assignment, m, system)
    torch.testing.assert_close(decoded, now.expand(m, spec.horizon, C), rtol=1e-5, atol=1e-5)


def test_forecast_builds_and_no_supernodes_have_no_coarse_head() -> None:
    assert build_model("roma", make_spec(), "tiny").coarse_head is None
    no_pool = build_model("roma", effective_spec("kuramoto"), "tiny", ["pool_steps=0"])
    assert no_pool.coarse_head is None
    out = behind_harness(no_pool)(make_batch(effective_spec("kuramoto")))
    assert out.coarse_prediction is None  # the harness averages the fine forecast instead


def test_coarse_loss_gradient_reaches_the_learned_pooling() -> None:
    spec = effective_spec("kuramoto")
    torch.manual_seed(0)
    model = build_model("roma", spec, "tiny", ["w_pde=0", "w_gpde=0", "w_link=0"])
    batch = make_batch(spec)
    batch = replace(batch, coarse_target=torch.rand_like(batch.coarse_target))
    forward = behind_harness(model).train().run(batch)
    # only the coarse data loss: no aux term may carry the gradient to the pooling
    loss = torch.nn.functional.mse_loss(forward.decoded.coarse_prediction, batch.coarse_target)
    loss.backward()
    for name in ("assign", "embed"):
        grads = [p.grad for p in getattr(model.pool, name).parameters()]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), name
    # and the harness's effective-task loss is computed on this head's prediction
    _total, parts = training_loss(forward, batch, "mse", "effective")
    assert parts["data_loss"] == pytest.approx(float(loss), rel=1e-6)
