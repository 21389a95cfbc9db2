"""The window loader: batches equal the stored frames, splits never leak, eval is fixed."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from roma_bench.data.batch import Batch
from roma_bench.data.loader import WindowLoader, window_starts
from roma_bench.data.spec import task_spec
from roma_bench.data.store import TaskStore


@pytest.fixture(scope="module")
def store(micro_store):
    with TaskStore(micro_store) as opened:
        yield opened


def _h5_rows(path, node_ids: torch.Tensor, start: int, stop: int) -> np.ndarray:
    """Reference read straight from h5py (sorted fancy index, then back to the batch order)."""
    ids = node_ids.numpy()
    order = np.argsort(ids)
    with h5py.File(path, "r") as f:
        rows = f["field"][ids[order], start:stop]
    out = np.empty_like(rows)
    out[order] = rows
    return out


def _frame(store, t0: float) -> int:
    return round(t0 / store.frame_dt)


def test_train_windows_match_the_stored_arrays(store, micro_store) -> None:
    loader = WindowLoader(store, "train", seed=3, noise=0.0)
    card = store.card
    kappa, horizon = card.window.lookback, card.window.horizon
    for _ in range(5):
        batch = loader.sample()
        t0 = _frame(store, batch.t0)
        expected = _h5_rows(micro_store, batch.node_ids, t0 - kappa + 1, t0 + horizon + 1)
        np.testing.assert_array_equal(batch.history.numpy(), expected[:, :kappa])
        np.testing.assert_array_equal(batch.target.numpy(), expected[:, kappa:])
        assert batch.future is None and batch.system == "kuramoto"
        assert batch.coords.shape == (batch.num_nodes, 2)
        assert torch.equal(batch.coords, store.coords[batch.node_ids])


def test_train_windows_stay_in_the_train_range(store) -> None:
    loader = WindowLoader(store, "train", seed=0)
    train_stop = store.card.frame_ranges["train"][1]
    starts = window_starts(store.card, "train")
    assert starts[0] == store.card.window.lookback - 1
    assert starts[-1] + store.card.window.horizon == train_stop - 1
    seen = {_frame(store, loader.sample().t0) for _ in range(30)}
    assert all(t in set(starts.tolist()) for t in seen) and len(seen) > 1


def test_train_subgraphs_never_contain_held_out_nodes(store) -> None:
    held_out = set(torch.cat([store.split.val, store.split.test]).tolist())
    loader = iter(WindowLoader(store, "train", seed=1))
    for _ in range(20):
        batch = next(loader)
        assert not held_out & set(batch.node_ids.tolist())
        assert batch.num_nodes > 0


@pytest.mark.parametrize("split", ["val", "test"])
def test_eval_batches_cover_the_held_out_subgraph_with_clean_futures(store, micro_store, split):
    card = store.card
    loader = WindowLoader(store, split, noise=0.5)  # noise never touches evaluation batches
    batches = loader.batches()
    nodes = getattr(store.split, split)
    start, stop = card.frame_ranges[split]
    assert len(batches) == len(loader) == card.window.eval_windows
    kappa, horizon, rollout = card.window.lookback, card.window.horizon, card.window.rollout
    for batch in batches:
        assert torch.equal(batch.node_ids.sort().values, nodes)
        t0 = _frame(store, batch.t0)
        assert start <= t0 + 1 and t0 + rollout <= stop - 1
        expected = _h5_rows(micro_store, batch.node_ids, t0 - kappa + 1, t0 + rollout + 1)
        np.testing.assert_array_equal(batch.history.numpy(), expected[:, :kappa])
        np.testing.assert_array_equal(batch.target.numpy(), expected[:, kappa : kappa + horizon])
        np.testing.assert_array_equal(batch.future.numpy(), expected[:, kappa:])
    assert loader.batches() is batches  # built once
    again = WindowLoader(store, split).batches()
    assert [b.t0 for b in again] == [b.t0 for b in batches]


def test_window_starts_are_evenly_spaced(store) -> None:
    card = store.card
    starts = window_starts(card, "test")
    start, stop = card.frame_ranges["test"]
    assert starts[0] == start - 1 and starts[-1] == stop - 1 - card.window.rollout
    assert np.all(np.diff(starts) > 0)


def test_coarse_target_is_the_noised_target_aggregated(store) -> None:
    from roma_bench.dynamics.observables import coarse_observables

    loader = WindowLoader(store, "train", seed=2, noise=0.3)
    clean = WindowLoader(store, "train", seed=2, noise=0.0)
    noisy_batch, clean_batch = loader.sample(), clean.sample()
    assert torch.equal(noisy_batch.node_ids, clean_batch.node_ids)
    assert not torch.equal(noisy_batch.target, clean_batch.target)
    offset = noisy_batch.target - clean_batch.target  # micro is Kuramoto: additive, radians
    assert 0.2 < offset.std().item() < 0.4  # σ = 0.3 rad
    assignment = clean_batch.coarse_assignment
    m = int(assignment.max()) + 1
    assert assignment.unique().tolist() == list(range(m))  # contiguous within the batch
    expected = coarse_observables(noisy_batch.target.double(), assignment, m, "kuramoto").float()
    torch.testing.assert_close(noisy_batch.coarse_target, expected)  # noised like the fine target
    global_parts = store.partition[clean_batch.node_ids]
    for label in range(m):  # relabelling keeps the partition's grouping
        assert global_parts[assignment == label].unique().numel() == 1


def test_card_noise_is_the_default(store) -> None:
    assert WindowLoader(store, "train").noise == store.card.noise
    assert WindowLoader(store, "train", noise=0.01).noise == 0.01


def test_training_stream_is_reproducible(store) -> None:
    a = WindowLoader(store, "train", seed=5, noise=0.1).sample()
    b = WindowLoader(store, "train", seed=5, noise=0.1).sample()
    assert torch.equal(a.node_ids, b.node_ids) and torch.equal(a.history, b.history)


def test_batches_validate_and_match_the_spec(store, micro_store) -> None:
    spec = task_spec(store.card, "effective", micro_store)
    assert (spec.lookback, spec.horizon, spec.coarse_channels) == (8, 2, 2)
    assert spec.num_nodes == 400 and spec.encoding_sizes == (4, 4)
    assert spec.frame_dt == pytest.approx(store.frame_dt) and spec.data_path == str(micro_store)
    assert spec.learning_task == "effective"
    for split in ("train", "val"):
        loader = WindowLoader(store, split)
        batch = next(iter(loader))
        assert isinstance(batch, Batch)
        batch.validate()
        assert batch.history.dtype == torch.float32 and batch.encodings.shape[1] == 8
        assert batch.coarse_target.shape[1:] == (spec.horizon, spec.coarse_channels)
        assert batch.encoding_sizes == spec.encoding_sizes


def test_read_field_handles_any_order_and_duplicates(store, micro_store) -> None:
    ids = np.array([399, 0, 5, 5, 130, 128, 257])
    rows = store.read_field(ids, 10, 42)
    with h5py.File(micro_store, "r") as f:
        expected = np.stack([f["field"][i, 10:42] for i in ids])
    np.testing.assert_array_equal(rows, expected)
    with pytest.raises(ValueError, match=r"frames \[0, 500\) outside \[0, 101\)"):
        store.read_field(ids, 0, 500)


def test_bad_arguments(store) -> None:
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        WindowLoader(store, "dev")
    with pytest.raises(TypeError, match="infinite stream"):
        len(WindowLoader(store, "train"))
    with pytest.raises(ValueError, match="unknown learning task 'rollout'"):
        task_spec(store.card, "rollout")


def test_km_tiny_serves_real_batches(km_tiny_store) -> None:
    """The quick-start task: spec from the card agrees with the batches from its store."""
    from roma_bench.cards import load_card

    card = load_card("km-tiny")
    spec = task_spec(card, data_path=km_tiny_store)
    with TaskStore(km_tiny_store) as store:
        assert (
            store.card.resolved() == card.resolved() and store.num_nodes == spec.num_nodes == 2000
        )
        assert store.num_frames >= 300
        batch = WindowLoader(store, "train", seed=0).sample()
        assert batch.num_nodes == card.batch.nodes
        assert (batch.lookback, batch.horizon) == (spec.lookback, spec.horizon)
        assert batch.encodings.shape == (batch.num_nodes, spec.encoding_dim)
        val = WindowLoader(store, "val").batches()
        assert len(val) == card.window.eval_windows
        assert val[0].num_nodes == card.split.val_nodes
        assert val[0].future.shape == (card.split.val_nodes, card.window.rollout)
        assert torch.isfinite(batch.history).all() and torch.isfinite(val[0].future).all()


def test_sample_with_a_seed_reseeds_the_streams(store) -> None:
    loader = WindowLoader(store, "train", seed=0, noise=0.2)
    first = loader.sample(seed=11)
    loader.sample()
    again = loader.sample(seed=11)
    other = WindowLoader(store, "train", seed=99, noise=0.2).sample(seed=11)
    plain = WindowLoader(store, "train", seed=11, noise=0.2).sample()
    for batch in (again, other, plain):
        assert torch.equal(batch.node_ids, first.node_ids) and batch.t0 == first.t0
        assert torch.equal(batch.history, first.history)
