"""Every registered model sees its inputs the harness's way (one normalization for all).

Registry-wide, so a new model is covered for free:

- a learned model reads the normalized batch through ``roma_bench.models.inputs.node_inputs``:
  handed a raw batch (no ``state``) it refuses, with the helper's message;
- it does not rescale its inputs itself: multiplying the normalized history by 10 (state
  fixed) changes its output, and not into 10× the output (what a model that divided by its
  own per-batch scale and multiplied back would return);
- through the harness, whole turns added to a Kuramoto node's phase shift its forecast by
  exactly those turns (no model reads the arbitrary offset of an unwrapped phase).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from baseline_kit import behind_harness, make_batch, make_spec

from roma_bench.registry import available_models, build_model, get_model_class

LEARNED = [name for name in available_models() if get_model_class(name).learnable]
#: Floors that read the true state of a generated store cannot run on synthetic batches.
NEEDS_STORE = {"oracle", "ar"}


def _predict(model, batch) -> torch.Tensor:
    torch.manual_seed(0)
    with torch.no_grad():
        return model(batch).prediction


@pytest.mark.parametrize("name", LEARNED)
def test_learned_model_refuses_a_raw_batch(name: str) -> None:
    model = build_model(name, make_spec()).eval()
    with pytest.raises(
        ValueError,
        match=r"Batch\.state or Batch\.differences is None: learned models read the harness",
    ):
        _predict(model, make_batch(32, seed=2))


@pytest.mark.parametrize("name", LEARNED)
def test_learned_model_does_not_rescale_its_inputs(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, make_spec()).eval()
    seen = behind_harness(model).normalization.normalize(make_batch(32, seed=3))
    base = _predict(model, seen)
    louder = _predict(
        model, replace(seen, history=10.0 * seen.history, differences=10.0 * seen.differences)
    )
    assert not torch.allclose(louder, base, rtol=1e-3, atol=1e-5), f"{name} ignores the scale"
    assert not torch.allclose(louder, 10.0 * base, rtol=1e-3, atol=1e-5), (
        f"{name} renormalizes its own history"
    )


@pytest.mark.parametrize("name", [n for n in available_models() if n not in NEEDS_STORE])
def test_whole_turns_shift_the_forecast_by_whole_turns(name: str) -> None:
    torch.manual_seed(0)
    harness = behind_harness(build_model(name, make_spec())).eval()
    batch = make_batch(32, seed=4)
    turns = 2 * math.pi * torch.randint(-3, 4, (batch.num_nodes, 1)).float()
    shifted = replace(batch, history=batch.history + turns, target=batch.target + turns)
    base, moved = _predict(harness, batch), _predict(harness, shifted)
    torch.testing.assert_close(moved - turns, base, atol=2e-4, rtol=0)
