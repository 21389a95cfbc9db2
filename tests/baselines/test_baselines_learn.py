"""Every learned baseline fits: its loss falls clearly in a few steps, ≥ 5× in 300 on km-tiny.

The data loss is the MSE in units of the batch's one-frame increment scale (the same scale
the models use internally), so that it is comparable across systems and batches:
``L = mean((ŷ − y)²) / s²`` with ``s = rms(x_k − x_{k−1})`` over the batch history.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from baseline_kit import make_batch, make_spec

from baselines.common import scale_history
from roma_bench.registry import available_models, build_model, get_model_class

LEARNED = [
    n
    for n in available_models()
    if get_model_class(n).__module__.startswith("baselines.") and get_model_class(n).learnable
]


def scaled_mse(prediction: torch.Tensor, batch) -> torch.Tensor:
    scale = scale_history(batch.history).scale
    return (prediction - batch.target).square().mean() / scale.square()


def evaluate(model, batches) -> float:
    model.eval()
    with torch.no_grad():
        losses = [float(scaled_mse(model(b).prediction, b)) for b in batches]
    model.train()
    return sum(losses) / len(losses)


def fit(model, batches, steps: int, lr: float) -> list[float]:
    """Adam on data loss + aux losses; returns the per-step data losses."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = []
    for batch in itertools.islice(batches, steps):
        out = model(batch)
        data_loss = scaled_mse(out.prediction, batch)
        loss = data_loss + sum(out.aux_losses.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.append(float(data_loss))
    return history


@pytest.mark.parametrize("name", LEARNED)
def test_loss_falls_quickly_on_synthetic_batches(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, make_spec())
    held_out = [make_batch(48, seed=1000 + i) for i in range(2)]
    before = evaluate(model, held_out)
    fit(model, (make_batch(48, seed=i % 8) for i in itertools.count()), steps=20, lr=3e-3)
    after = evaluate(model, held_out)
    assert after < 0.5 * before, f"{name}: held-out loss {before:.4g} → {after:.4g}"


@pytest.mark.slow
@pytest.mark.parametrize("name", LEARNED)
def test_loss_falls_5x_in_300_steps_on_km_tiny(name: str, km_tiny_store) -> None:
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore

    torch.manual_seed(0)
    with TaskStore(km_tiny_store) as store:
        model = build_model(name, task_spec(store.card))
        held_out = list(itertools.islice(iter(WindowLoader(store, "train", seed=123)), 4))
        before = evaluate(model, held_out)
        fit(model, iter(WindowLoader(store, "train", seed=0)), steps=300, lr=1e-3)
        after = evaluate(model, held_out)
    assert after * 5 <= before, f"{name}: held-out loss {before:.4g} → {after:.4g} in 300 steps"
