"""Every learned baseline fits: its loss falls clearly in a few steps, ≥ 5× in 300 on km-tiny.

The data loss is the harness's default training loss, the MSE of the normalized targets
``mean((f − ỹ)²)`` with ``ỹ = (y − x_t0)/s`` (:mod:`roma_bench.training.normalization`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from baseline_kit import STATS, make_batch, make_spec

from roma_bench.registry import available_models, build_model, get_model_class
from roma_bench.training.config import OptimConfig
from roma_bench.training.metrics import mse
from roma_bench.training.normalization import harness_model
from roma_bench.training.schedules import build_optimizer

LEARNED = [
    n
    for n in available_models()
    if get_model_class(n).__module__.startswith("baselines.") and get_model_class(n).learnable
]


def normalized_mse(harness, batch) -> tuple[torch.Tensor, dict]:
    forward = harness.run(batch)
    return mse(forward.output.prediction, forward.model_batch.target), forward.output.aux_losses


def evaluate(harness, batches) -> float:
    harness.eval()
    with torch.no_grad():
        losses = [float(normalized_mse(harness, b)[0]) for b in batches]
    harness.train()
    return sum(losses) / len(losses)


def fit(harness, batches, steps: int, lr: float) -> list[float]:
    """The harness's optimizer over ``steps``: AdamW, linear warm-up then cosine decay
    (:func:`roma_bench.training.schedules.build_optimizer`: the OptimConfig defaults at ``lr``,
    the default's warm-up share, 20 of 300 steps), gradient-norm clipping; data loss + aux
    losses; returns the per-step data losses."""
    optim = OptimConfig(lr=lr, warmup_steps=steps // 15)
    optimizer, scheduler = build_optimizer(harness.parameters(), optim, steps)
    history = []
    for batch in itertools.islice(batches, steps):
        data_loss, aux = normalized_mse(harness, batch)
        loss = data_loss + sum(aux.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(harness.parameters(), optim.grad_clip)
        optimizer.step()
        scheduler.step()
        history.append(float(data_loss))
    return history


@contextlib.contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """One intra-op thread (a float sum's order, and so a trajectory, depends on the thread
    count) and seeded torch/numpy generators (initial weights, dropout); restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", LEARNED)
def test_loss_falls_quickly_on_synthetic_batches(name: str) -> None:
    torch.manual_seed(0)
    model = harness_model(build_model(name, make_spec()), STATS, "increments")
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

    with TaskStore(km_tiny_store) as store, deterministic_torch(seed=0):
        model = harness_model(
            build_model(name, task_spec(store.card)), store.normalization, "increments"
        )
        held_out = list(itertools.islice(iter(WindowLoader(store, "val")), 4))  # validation
        before = evaluate(model, held_out)
        fit(model, iter(WindowLoader(store, "train", seed=0)), steps=300, lr=1e-3)
        after = evaluate(model, held_out)
    print(f"{name}: validation loss {before:.6g} → {after:.6g} ({before / after:.3g}x)")
    assert after * 5 <= before, f"{name}: validation loss {before:.4g} → {after:.4g} in 300 steps"
