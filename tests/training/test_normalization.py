"""The harness's normalization: formulas, round trip, offset-free state, the two losses."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from harness_doubles import make_batch

from roma_bench.models.base import ModelOutput
from roma_bench.training.losses import training_loss
from roma_bench.training.metrics import mse, smspe
from roma_bench.training.normalization import HarnessModel, Normalization, harness_model

DIFFS = (0.25, 0.1, 0.05, 0.02)
NORM = Normalization("increments", increment_scale=0.25, difference_scales=DIFFS, level_scale=2.0)


def test_normalize_follows_the_formulas() -> None:
    batch = make_batch(0)
    seen = NORM.normalize(batch)
    last = batch.history[:, -1:]
    torch.testing.assert_close(seen.history, (batch.history - last) / 0.25)
    torch.testing.assert_close(seen.target, (batch.target - last) / 0.25)
    assert torch.all(seen.history[:, -1] == 0)
    torch.testing.assert_close(seen.state, torch.cat([last.cos(), last.sin()], dim=1))
    x = batch.history.double()  # ∇¹…∇⁴ at t0 written out with binomial coefficients
    expected = torch.stack(
        [
            x[:, -1] - x[:, -2],
            x[:, -1] - 2 * x[:, -2] + x[:, -3],
            x[:, -1] - 3 * x[:, -2] + 3 * x[:, -3] - x[:, -4],
            x[:, -1] - 4 * x[:, -2] + 6 * x[:, -3] - 4 * x[:, -4] + x[:, -5],
        ],
        dim=1,
    ) / torch.tensor(DIFFS, dtype=torch.float64)
    torch.testing.assert_close(seen.differences.double(), expected, rtol=1e-5, atol=1e-5)
    assert seen.future is None and batch.state is None  # the raw batch is left untouched
    seen.validate()
    social = make_batch(1, system="social")
    torch.testing.assert_close(NORM.normalize(social).state, social.history[:, -1:] / 2.0)


def test_normalize_then_decode_is_the_identity() -> None:
    batch = make_batch(2, future=True)
    seen = NORM.normalize(batch)
    torch.testing.assert_close(NORM.decode(batch, seen.target), batch.target)
    none = Normalization("none", increment_scale=0.25, difference_scales=DIFFS)
    raw = none.normalize(batch)
    assert torch.equal(raw.history, batch.history) and torch.equal(raw.target, batch.target)
    assert raw.state is not None  # the model's input width does not depend on the mode
    assert torch.equal(none.decode(batch, batch.target), batch.target)


def test_whole_turns_of_a_phase_change_nothing_the_model_sees() -> None:
    batch = make_batch(3)
    turns = 2 * math.pi * torch.randint(-3, 4, (batch.num_nodes, 1)).float()
    shifted = replace(batch, history=batch.history + turns, target=batch.target + turns)
    a, b = NORM.normalize(batch), NORM.normalize(shifted)
    for name in ("history", "target", "state"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), atol=2e-5, rtol=0)
    # ∇⁴ sums 16 float32-rounded phases: the whole turns move their rounding, not their value
    torch.testing.assert_close(b.differences, a.differences, atol=2e-3, rtol=0)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="normalization 'zscore': expected one of"):
        Normalization("zscore", 1.0)
    with pytest.raises(ValueError, match="increment_scale must be > 0"):
        Normalization("increments", 0.0)
    with pytest.raises(ValueError, match="needs the store's level_scale"):
        Normalization("increments", 1.0, DIFFS).normalize(make_batch(0, system="social"))
    with pytest.raises(ValueError, match="has 4 backward differences, but the task stores 2"):
        Normalization("increments", 1.0, (1.0, 1.0)).normalize(make_batch(0))
    with pytest.raises(ValueError, match="difference_scales must be > 0"):
        Normalization("increments", 1.0, (1.0, 0.0))


class _Echo(torch.nn.Module):
    """Predicts ``c`` (a learnable constant) in whatever units it is given."""

    learnable = True

    def __init__(self) -> None:
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, batch) -> ModelOutput:
        return ModelOutput(prediction=self.c.expand(batch.num_nodes, batch.horizon))


class _Floor(_Echo):
    learnable = False


def test_default_loss_is_mse_of_normalized_targets_and_smspe_is_on_field_values() -> None:
    batch = make_batch(4)
    harness = harness_model(
        _Echo(), {"increment_scale": 0.25, "difference_scales": DIFFS}, "increments"
    )
    forward = harness.run(batch)
    loss, parts = training_loss(forward, batch, "mse", "forecast")
    ytilde = (batch.target - batch.history[:, -1:]) / 0.25
    assert float(loss) == pytest.approx(float(mse(torch.full_like(ytilde, 0.5), ytilde)))
    decoded = batch.history[:, -1:] + 0.25 * 0.5
    torch.testing.assert_close(forward.decoded.prediction, decoded.expand_as(batch.target))
    paper, _ = training_loss(forward, batch, "smspe", "forecast")
    assert float(paper) == pytest.approx(float(smspe(forward.decoded.prediction, batch.target)))
    assert parts["data_loss"] == pytest.approx(float(loss))


def test_floors_get_the_raw_batch() -> None:
    harness = harness_model(
        _Floor(), {"increment_scale": 0.25, "difference_scales": DIFFS}, "increments"
    )
    assert isinstance(harness, HarnessModel) and harness.normalization is None
    batch = make_batch(5)
    forward = harness.run(batch)
    assert forward.model_batch is batch and forward.decoded is forward.output


def test_a_floors_own_hooks_stay_reachable_and_a_learned_models_do_not() -> None:
    """The oracle's ``rollout(batch, frames)`` hook must survive the wrapper; a learned
    model's hook would see raw batches, so it is not forwarded."""

    def hook(batch, frames):
        return batch.history[:, -1:].expand(-1, frames)

    floor, learned = _Floor(), _Echo()
    floor.rollout = learned.rollout = hook
    assert (
        harness_model(
            floor, {"increment_scale": 0.25, "difference_scales": DIFFS}, "increments"
        ).rollout
        is hook
    )
    wrapped = harness_model(
        learned, {"increment_scale": 0.25, "difference_scales": DIFFS}, "increments"
    )
    assert not hasattr(wrapped, "rollout")


def test_decoding_a_half_precision_output_keeps_the_phase() -> None:
    """Under CUDA autocast a model may return bf16; the decoded phase stays float32-exact."""
    batch = make_batch(6)
    batch = replace(batch, history=batch.history + 100.0, target=batch.target + 100.0)
    f = NORM.normalize(batch).target
    decoded = NORM.decode(batch, f.to(torch.bfloat16))
    assert decoded.dtype == torch.float32
    # bf16 keeps ~3 significant digits of f (|f| ≲ 10), i.e. ~1e-2·s of the phase, not ~0.5 rad
    torch.testing.assert_close(decoded, batch.target, atol=0.25 * 0.02, rtol=0)
