"""The harness on the real km-tiny store: resumable sampling, both learning tasks, evaluation."""

from __future__ import annotations

import multiprocessing

import pytest
import torch
from safetensors.torch import load_file

from roma_bench.training.config import TrainConfig
from roma_bench.training.data import open_task_data, training_batches
from roma_bench.training.evaluate import evaluate_checkpoint
from roma_bench.training.fit import train


@pytest.fixture
def km_tiny(km_tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return km_tiny_store


def test_training_batches_depend_only_on_seed_and_step(km_tiny):
    first = open_task_data("km-tiny", seed=3, progress=False)
    second = open_task_data("km-tiny", seed=3, progress=False)
    a = [first.train_windows[step] for step in (0, 1, 2)]
    b = [second.train_windows[step] for step in (2, 0, 1)]  # out of order, as after a resume
    for x, y in zip(a, [b[1], b[2], b[0]]):
        assert torch.equal(x.node_ids, y.node_ids)
        assert torch.equal(x.history, y.history) and x.t0 == y.t0
    assert not torch.equal(a[0].history, a[1].history)
    other_seed = open_task_data("km-tiny", seed=4, progress=False).train_windows[0]
    assert not torch.equal(other_seed.node_ids, a[0].node_ids)
    test = first.eval_batches("test")
    assert test[0].future is not None and test[0].future.shape[1] >= 16


def _same_batch(x, y) -> bool:
    return (
        torch.equal(x.node_ids, y.node_ids) and torch.equal(x.history, y.history)
        and torch.equal(x.target, y.target) and torch.equal(x.encodings, y.encodings)
        and torch.equal(x.edge_index, y.edge_index) and x.t0 == y.t0
    )  # fmt: skip


def test_batch_k_is_the_same_with_0_1_and_2_dataloader_workers(km_tiny):
    """The training loop's batch stream (training_batches) does not depend on num_workers,
    also when it starts mid-stream as after a resume."""
    items = open_task_data("km-tiny", seed=5, progress=False).train_windows
    direct = [items[k] for k in range(2, 8)]
    for workers in (0, 1, 2):
        streamed = list(training_batches(items, 2, 8, num_workers=workers))
        assert len(streamed) == 6
        assert all(_same_batch(a, b) for a, b in zip(direct, streamed)), workers


def test_training_with_workers_ends_with_the_same_weights(km_tiny, tmp_path):
    weights = []
    for workers in (0, 2):
        config = TrainConfig(
            model_name="gcn", task="km-tiny", steps=6, val_every=3, checkpoint_every=6,
            device="cpu", plots=False, evaluate_test=False, num_workers=workers,
        )  # fmt: skip
        result = train(config, progress=False, out_dir=tmp_path / f"w{workers}")
        weights.append(load_file(str(result.checkpoint)))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_the_dataloader_workers_stop_when_training_ends(km_tiny, tmp_path, monkeypatch):
    """No worker outlives the training loop (they would be forked into the next run)."""
    from roma_bench.training.loop import TrainingLoop

    alive_at_test = []
    real = TrainingLoop.test_and_plot

    def spy(self, title):
        alive_at_test.append(len(multiprocessing.active_children()))
        return real(self, title)

    monkeypatch.setattr(TrainingLoop, "test_and_plot", spy)
    before = len(multiprocessing.active_children())
    config = TrainConfig(
        model_name="gcn", task="km-tiny", steps=4, val_every=2, checkpoint_every=4,
        device="cpu", plots=False, num_workers=2,
    )  # fmt: skip
    assert train(config, progress=False, out_dir=tmp_path / "w").status == "FINISHED"
    assert alive_at_test == [before]


@pytest.mark.parametrize("learning_task", ["forecast", "effective"])
def test_gcn_trains_and_evaluates(km_tiny, tmp_path, learning_task):
    config = TrainConfig(
        model_name="gcn", task="km-tiny", steps=3, val_every=3, checkpoint_every=3,
        learning_task=learning_task, device="cpu", plots=False,
    )  # fmt: skip
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = train(config, tracking_uri=tracking, progress=False, out_dir=tmp_path / "gcn")
    assert result.status == "FINISHED" and result.steps_done == 3
    assert result.metrics["coarse_smspe"] > 0 and result.metrics["rollout_nrmse_h16"] > 0
    again = evaluate_checkpoint(result.checkpoint)
    assert again["smspe"] == pytest.approx(result.metrics["smspe"], rel=1e-5)


def test_train_nodes_reaches_the_training_batches_and_is_validated(km_tiny):
    """TrainConfig.train_nodes → open_task_data → the training stream (data scaling);
    the scored splits stay whole."""
    from pydantic import ValidationError

    from roma_bench.graphs.sampler import nested_region

    data = open_task_data("km-tiny", seed=0, progress=False, train_nodes=0.5)
    store = data.store
    half = set(nested_region(store.graph, store.split.train, 0.5, store.card.split.seed).tolist())
    assert all(set(data.train_windows[k].node_ids.tolist()) <= half for k in range(3))
    assert set(data.train_windows_for(1, 2)[0].node_ids.tolist()) <= half
    whole = open_task_data("km-tiny", seed=0, progress=False)
    assert torch.equal(
        data.eval_batches("test")[0].node_ids, whole.eval_batches("test")[0].node_ids
    )
    assert TrainConfig(model_name="gcn", task="km-tiny", train_nodes=0.25).train_nodes == 0.25
    for bad in (0, 1.5):
        with pytest.raises(ValidationError, match="train_nodes"):
            TrainConfig(model_name="gcn", task="km-tiny", train_nodes=bad)


def test_train_opens_the_data_with_the_configs_train_nodes(km_tiny, monkeypatch):
    from roma_bench.training import fit

    seen = {}

    def record(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt  # stop before any training

    monkeypatch.setattr(fit.task_data, "open_task_data", record)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(model_name="gcn", task="km-tiny", steps=2, train_nodes=0.25),
              progress=False)  # fmt: skip
    assert seen["train_nodes"] == 0.25
