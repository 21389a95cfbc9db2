"""persistence and linear equal their closed forms exactly; oracle reproduces the simulator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from baseline_kit import make_batch, make_spec

from roma_bench.registry import build_model


def smspe(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """``mean((|y − ŷ| / (|y| + |ŷ| + 1e-4))²)`` (the ROMA paper's symmetric error)."""
    ratio = (target - prediction).abs() / (target.abs() + prediction.abs() + 1e-4)
    return float(ratio.square().mean())


def nrmse(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """``sqrt(mean((y − ŷ)²) / mean(y²))``."""
    return float(((target - prediction).square().mean() / target.square().mean()).sqrt())


def test_persistence_repeats_the_last_frame() -> None:
    batch = make_batch(30, seed=4)
    prediction = build_model("persistence", make_spec())(batch).prediction
    expected = batch.history[:, -1:].repeat(1, batch.horizon)
    assert torch.equal(prediction, expected)


def test_linear_extrapolates_the_last_two_frames() -> None:
    batch = make_batch(30, seed=4)
    prediction = build_model("linear", make_spec())(batch).prediction
    x = batch.history
    for k in range(1, batch.horizon + 1):
        assert torch.equal(prediction[:, k - 1], x[:, -1] + k * (x[:, -1] - x[:, -2]))


def test_linear_is_exact_on_linear_histories_and_persistence_with_one_frame() -> None:
    batch = make_batch(10, seed=0)
    steps = torch.arange(batch.lookback + batch.horizon, dtype=torch.float32)
    field = 2.0 + 0.25 * steps  # exactly representable
    batch = dataclasses.replace(
        batch,
        history=field[: batch.lookback].repeat(10, 1),
        target=field[batch.lookback :].repeat(10, 1),
    )
    assert torch.equal(build_model("linear", make_spec())(batch).prediction, batch.target)
    single = dataclasses.replace(batch, history=batch.history[:, -1:])
    linear = build_model("linear", make_spec())(single).prediction
    assert torch.equal(linear, build_model("persistence", make_spec())(single).prediction)


def test_oracle_needs_the_task_data() -> None:
    oracle = build_model("oracle", make_spec(data_path=None))
    with pytest.raises(ValueError, match="data_path"):
        oracle(make_batch(8))


def _check_oracle(path) -> None:
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore

    with TaskStore(path) as store:
        assert store.card.noise == 0.0
        oracle = build_model("oracle", task_spec(store.card, data_path=path))
        persistence = build_model("persistence", task_spec(store.card))
        errors, floor = [], []
        for batch in WindowLoader(store, "test"):
            errors.append(smspe(oracle(batch).prediction, batch.target))
            floor.append(smspe(persistence(batch).prediction, batch.target))
            # the same t0 again is served from the cache, identically
            assert torch.equal(oracle(batch).prediction, oracle(batch).prediction)
    assert max(errors) <= 1e-4, errors
    assert sum(errors) < 1e-2 * sum(floor)  # far below "no learning"


def test_oracle_matches_the_clean_test_targets(km_tiny_store) -> None:
    _check_oracle(km_tiny_store)


@pytest.mark.parametrize("store_fixture", ["km_tiny_store", "bd_tiny_store"])
def test_oracle_rollout_does_not_read_the_stored_future(
    store_fixture: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    """A copy of the store whose frames after t0 are NaN gives the identical oracle rollout."""
    import shutil

    import h5py

    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore
    from roma_bench.training.evaluate import rollout

    source = request.getfixturevalue(store_fixture)
    poisoned = tmp_path / "poisoned.h5"
    shutil.copy(source, poisoned)
    with TaskStore(source) as store:
        batch = WindowLoader(store, "test").batches()[-1]
        frames = store.card.window.rollout
        clean = build_model("oracle", task_spec(store.card, data_path=source))
        expected = rollout(clean, batch, frames)
    t0 = round(batch.t0 / batch.frame_dt)
    with h5py.File(poisoned, "r+") as file:
        file["field"][:, t0 + 1 :] = np.nan
    with TaskStore(poisoned) as store:
        assert np.isnan(store.read_field(np.arange(3), t0 + 1, t0 + 2)).all()
        oracle = build_model("oracle", task_spec(store.card, data_path=poisoned))
        got = rollout(oracle, batch, frames)
    assert torch.equal(got, expected)
    assert got.shape == (batch.num_nodes, frames) and torch.isfinite(got).all()
    # ...and it integrated its own state: the rollout tracks the clean truth (Kuramoto: to
    # the integrator's precision; social: up to the drive it does not know, held at t0)
    truth, last = batch.future[:, :frames], batch.history[:, -1:]
    if batch.system == "kuramoto":
        assert smspe(got, truth) < 1e-4
    else:
        assert nrmse(got, truth) < 0.3 * nrmse(last.expand_as(truth), truth)


@pytest.mark.slow
def test_bd_tiny_headroom(tmp_path) -> None:
    """bd-tiny's test windows: the held-drive oracle is far below persistence and linear."""
    from roma_bench.cards import load_card
    from roma_bench.data.generation import generate_task
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore
    from roma_bench.training.evaluate import evaluate_model

    path = generate_task(load_card("bd-tiny"), tmp_path / "bd-tiny.h5", progress=False)
    with TaskStore(path) as store:
        spec = task_spec(store.card, data_path=path)
        batches = WindowLoader(store, "test").batches()
        score = {
            name: evaluate_model(build_model(name, spec), batches, spec)["nrmse"]
            for name in ("persistence", "linear", "oracle")
        }
    assert score["oracle"] <= 0.3 * score["persistence"], score
    assert abs(score["linear"] / score["oracle"] - 1) > 0.1, score
