"""TrainWindows / EvalWindows: one training stream for users and the harness, worker-safe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from roma_bench.data.batch import Batch
from roma_bench.data.datasets import EvalWindows, TrainWindows, rank_item
from roma_bench.data.loader import WindowLoader
from roma_bench.data.store import TaskStore


def _same(a: Batch, b: Batch) -> None:
    assert torch.equal(a.node_ids, b.node_ids)
    assert torch.equal(a.history, b.history) and torch.equal(a.target, b.target)
    assert torch.equal(a.coarse_target, b.coarse_target)
    assert torch.equal(a.edge_index, b.edge_index) and a.t0 == b.t0


def test_item_k_is_the_harness_batch_k(km_tiny_store, monkeypatch) -> None:
    from roma_bench.training.data import open_task_data

    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    harness = open_task_data("km-tiny", seed=7, progress=False).train_windows
    windows = TrainWindows("km-tiny", seed=7, length=4)
    for k in (3, 0, 2):
        _same(windows[k], harness[k])
    iterated = iter(WindowLoader(TaskStore(km_tiny_store), "train", seed=7))
    for k in range(3):  # the loader's own stream is the same stream
        _same(next(iterated), windows[k])
    assert not torch.equal(windows[0].node_ids, windows[1].node_ids)
    assert not torch.equal(windows[0].node_ids, TrainWindows(km_tiny_store, seed=8)[0].node_ids)


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_dataloader_workers_give_identical_batches(km_tiny_store, workers) -> None:
    windows = TrainWindows(km_tiny_store, seed=1, length=4, noise=0.1)
    reference = [windows[k] for k in range(4)]
    loader = DataLoader(windows, batch_size=None, num_workers=workers)
    got = list(loader)
    assert len(got) == 4
    for a, b in zip(got, reference):
        _same(a, b)


def test_ranks_take_interleaved_items(km_tiny_store) -> None:
    whole = TrainWindows(km_tiny_store, seed=2)
    rank1 = TrainWindows(km_tiny_store, seed=2, rank=1, world_size=3)
    assert [rank_item(s, 1, 3) for s in range(3)] == [1, 4, 7]
    _same(rank1[2], whole[7])
    with pytest.raises(ValueError, match="rank 3 of world_size 3"):
        TrainWindows(km_tiny_store, rank=3, world_size=3)
    with pytest.raises(IndexError, match="expected 0 ≤ item < 5"):
        TrainWindows(km_tiny_store, length=5)[5]


def test_edge_index_is_the_subgraph(km_tiny_store) -> None:
    batch = TrainWindows(km_tiny_store)[0]
    src, dst = batch.graph.edges()
    assert batch.edge_index.dtype == torch.int64 and batch.edge_index.shape[0] == 2
    assert torch.equal(batch.edge_index[0], src.long()) and torch.equal(batch.edge_index[1], dst)
    assert int(batch.edge_index.max()) < batch.num_nodes
    pairs = set(map(tuple, batch.edge_index.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs)  # both directions


def test_eval_windows_are_the_stored_windows(km_tiny_store) -> None:
    import h5py

    windows = EvalWindows(km_tiny_store, "test")
    with h5py.File(km_tiny_store, "r") as f:
        starts = f["windows/test"][:]
        nodes = f["split/test"][:]
        field = f["field"][np.sort(nodes)]
    assert len(windows) == len(starts)
    kappa = windows[0].lookback
    for i in (0, len(starts) - 1):
        batch = windows[i]
        assert np.array_equal(batch.node_ids.numpy(), nodes)
        t0 = int(starts[i])
        order = np.searchsorted(np.sort(nodes), nodes)
        np.testing.assert_array_equal(batch.history.numpy(), field[order, t0 - kappa + 1 : t0 + 1])
        rollout = batch.future.shape[1]
        np.testing.assert_array_equal(batch.future.numpy(), field[order, t0 + 1 : t0 + 1 + rollout])
    with pytest.raises(ValueError, match="split 'train': expected 'val' or 'test'"):
        EvalWindows(km_tiny_store, "train")


def test_coarse_targets_are_noised_like_the_fine_targets(km_tiny_store) -> None:
    from roma_bench.dynamics.observables import coarse_observables

    noisy = TrainWindows(km_tiny_store, seed=4, noise=0.3)[0]
    clean = TrainWindows(km_tiny_store, seed=4, noise=0.0)[0]
    expected = coarse_observables(
        noisy.target.double(), noisy.coarse_assignment, noisy.num_parts, noisy.system
    ).float()
    torch.testing.assert_close(noisy.coarse_target, expected)
    assert not torch.allclose(noisy.coarse_target, clean.coarse_target, atol=1e-3)


def test_a_training_fraction_draws_from_a_nested_region_only(km_tiny_store) -> None:
    """train_nodes = ¼: every training subgraph lies in the ¼ region, which lies in the ½
    region; validation and test batches are the full held-out regions as before."""
    from roma_bench.graphs.sampler import nested_region

    store = TaskStore(km_tiny_store)
    seed = store.card.split.seed
    quarter = set(nested_region(store.graph, store.split.train, 0.25, seed).tolist())
    half = set(nested_region(store.graph, store.split.train, 0.5, seed).tolist())
    assert quarter < half and len(quarter) == -(-len(store.split.train) // 4)
    windows = TrainWindows(store, seed=0, train_nodes=0.25)
    seen = set().union(*(set(windows[k].node_ids.tolist()) for k in range(6)))
    assert seen <= quarter and len(seen) > 100
    assert not set().union(*(set(TrainWindows(store, seed=0)[k].node_ids.tolist())
                             for k in range(6))) <= quarter  # fmt: skip
    with pytest.raises(ValueError, match="train_nodes is for the train split"):
        WindowLoader(store, "val", train_nodes=0.5)
    with pytest.raises(ValueError, match=r"expected a fraction in \(0, 1\]"):
        WindowLoader(store, "train", train_nodes=0.0)
