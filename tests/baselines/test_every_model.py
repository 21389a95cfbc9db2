"""One test per registered model (ROMA, the baselines, any plugin): build, run, backprop, reload.

Adding a model to the registry is enough for it to be covered here (PDEArena style).
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from baseline_kit import behind_harness, make_batch, make_spec

from roma_bench.models.base import ForecastModel, load_checkpoint, save_checkpoint
from roma_bench.registry import available_models, build_model, get_model_class

# Models that need a generated task store (they read the true state of the whole graph).
NEEDS_STORE = {"oracle", "ar"}


def _build(name: str, request: pytest.FixtureRequest):
    """``(model, batch)`` for ``name``: a synthetic km-tiny-like batch, or a real one if needed."""
    torch.manual_seed(0)
    if name not in NEEDS_STORE:
        return build_model(name, make_spec(), "tiny"), make_batch(n=48, seed=1)
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore

    path = request.getfixturevalue("km_tiny_store")
    store = TaskStore(path)
    request.addfinalizer(store.close)
    model = build_model(name, task_spec(store.card, data_path=path), "tiny")
    return model, next(iter(WindowLoader(store, "val")))


def _without_targets(batch):
    """The batch with every target field poisoned: a model that reads one returns NaN."""
    return dataclasses.replace(
        batch,
        target=torch.full_like(batch.target, math.nan),
        coarse_target=torch.full_like(batch.coarse_target, math.nan),
        future=None,
    )


def _check_gradients(name, model, batch) -> None:
    """Every trainable parameter gets a nonzero gradient from the data loss + aux losses."""
    out = behind_harness(model)(batch)
    loss = (out.prediction - batch.target).square().mean() + sum(out.aux_losses.values())
    loss.backward()
    dead = [
        pname
        for pname, p in model.named_parameters()
        if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))
    ]
    assert not dead, f"{name}: parameters without gradient: {dead}"
    assert model.num_parameters() > 0


def _eval_prediction(model, batch, seed: int = 1) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        torch.manual_seed(seed)
        return behind_harness(model)(batch).prediction


@pytest.mark.parametrize("name", available_models())
def test_every_model(name: str, request: pytest.FixtureRequest, tmp_path) -> None:
    """Builds for km-tiny, predicts finite ``[n, H]``, learns everywhere, ignores targets, reloads."""
    model, batch = _build(name, request)
    assert isinstance(model, ForecastModel) and model.name == name
    out = behind_harness(model)(batch)
    assert out.prediction.shape == (batch.num_nodes, model.spec.horizon)
    assert torch.isfinite(out.prediction).all()
    for key, value in {**out.aux_losses, **out.diagnostics}.items():
        assert value.dim() == 0 and torch.isfinite(value), key
    if model.learnable:
        _check_gradients(name, model, batch)
    else:
        assert model.num_parameters() == 0

    # forward never reads the targets: poisoned targets change nothing
    honest = _eval_prediction(model, batch)
    torch.testing.assert_close(_eval_prediction(model, _without_targets(batch)), honest)

    # a checkpoint rebuilds the same model through the registry
    loaded, _ = load_checkpoint(save_checkpoint(model, tmp_path / f"{name}.pt"))
    assert type(loaded) is type(model) and loaded.size == "tiny"
    torch.testing.assert_close(_eval_prediction(loaded, batch), honest)


BASELINES = [
    n for n in available_models() if get_model_class(n).__module__.startswith("baselines.")
]


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_has_tiny_and_base_sizes_and_a_documented_class(name: str) -> None:
    cls = get_model_class(name)
    assert {"tiny", "base"} <= set(cls.SIZES)
    assert cls.__doc__ and cls.__doc__.strip()
    for size in cls.SIZES:
        cls.make_config(make_spec(), size)  # every preset validates


def test_blocked_attention_equals_full_attention_within_one_block() -> None:
    """don-mp's transformer in blocks: one block = full attention; blocks never mix."""
    torch.manual_seed(0)
    model = build_model("don-mp", make_spec(), overrides=["attention_block=8"]).eval()
    h = torch.randn(20, model.config.width)
    with torch.no_grad():
        blocked = model.attend(h)
        first = model.transformer(h[:8].unsqueeze(0)).squeeze(0)
        last = model.transformer(h[16:].unsqueeze(0)).squeeze(0)  # a 4-token padded block
    torch.testing.assert_close(blocked[:8], first, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(blocked[16:], last, rtol=1e-5, atol=1e-5)
