"""``ar``: the pooled least-squares autoregression equals an independent numpy fit, reads only
training nodes and frames, and subsamples huge cards deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.autoregression import fit_autoregression, training_samples
from roma_bench.data.loader import WindowLoader
from roma_bench.data.spec import task_spec
from roma_bench.data.store import TaskStore
from roma_bench.registry import build_model


def reference_fit(store: TaskStore) -> np.ndarray:
    """``[A; b]`` by ``np.linalg.lstsq`` on the explicit design matrix, built loop by loop."""
    lookback, horizon = store.card.window.lookback, store.card.window.horizon
    train_stop = store.card.frame_ranges["train"][1]
    nodes = store.split.train.numpy()
    field = store.read_field(nodes, 0, train_stop).astype(np.float64)  # [n_train, a]
    rows, targets = [], []
    for t0 in range(lookback - 1, train_stop - horizon):
        history = field[:, t0 - lookback + 1 : t0 + 1]
        rows.append(np.hstack([np.diff(history, axis=1), np.ones((len(nodes), 1))]))
        targets.append(field[:, t0 + 1 : t0 + 1 + horizon] - field[:, t0 : t0 + 1])
    return np.linalg.lstsq(np.vstack(rows), np.vstack(targets), rcond=None)[0]


def test_ar_equals_numpy_lstsq_on_the_training_split(km_tiny_store) -> None:
    with TaskStore(km_tiny_store) as store:
        expected = reference_fit(store)
        card = store.card
        model = build_model("ar", task_spec(card, data_path=km_tiny_store))
        batches = list(WindowLoader(store, "test"))
    got = model.fit()
    assert got.shape == (card.window.lookback, card.window.horizon)  # κ−1 lags + intercept
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    for batch in batches:
        history = batch.history.double().numpy()
        features = np.hstack([np.diff(history, axis=1), np.ones((len(history), 1))])
        reference = history[:, -1:] + features @ expected
        prediction = model(batch).prediction
        assert prediction.dtype == batch.history.dtype
        np.testing.assert_allclose(prediction.double().numpy(), reference, rtol=1e-6, atol=1e-6)
    # and it is a real floor: far better than persistence on km-tiny's smooth phases
    error = lambda p, b: float(((p - b.target) ** 2).mean())  # noqa: E731
    persistence = build_model("persistence", task_spec(card))
    ar_error = sum(error(model(b).prediction, b) for b in batches)
    assert ar_error < 0.1 * sum(error(persistence(b).prediction, b) for b in batches)


class RecordingStore:
    """A store proxy that records every ``read_field`` request."""

    def __init__(self, store: TaskStore) -> None:
        self._store, self.reads = store, []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def read_field(self, nodes, start, stop):
        self.reads.append((np.asarray(nodes).copy(), start, stop))
        return self._store.read_field(nodes, start, stop)


def test_ar_fit_reads_only_training_nodes_and_frames(km_tiny_store) -> None:
    with TaskStore(km_tiny_store) as store:
        recording = RecordingStore(store)
        fit_autoregression(recording, store.card.window.lookback, store.card.window.horizon)
        train_nodes = set(store.split.train.tolist())
        train_stop = store.card.frame_ranges["train"][1]
    assert recording.reads
    for nodes, _start, stop in recording.reads:
        assert set(nodes.tolist()) <= train_nodes
        assert stop <= train_stop


def test_huge_cards_are_subsampled_deterministically_under_the_cap(km_tiny_store) -> None:
    with TaskStore(km_tiny_store) as store:
        nodes, starts = training_samples(store, max_samples=10_000)
        again = training_samples(store, max_samples=10_000)
        assert len(nodes) * len(starts) <= 10_000
        assert np.array_equal(nodes, again[0]) and np.array_equal(starts, again[1])
        assert set(nodes.tolist()) <= set(store.split.train.tolist())
        coefficients, used = fit_autoregression(store, 16, 4, max_samples=10_000)
        assert used == len(nodes) * len(starts) and np.isfinite(coefficients).all()
        tiny_nodes, tiny_starts = training_samples(store, max_samples=1)
        assert len(tiny_nodes) == 1 and len(tiny_starts) == 1


def test_ar_needs_the_task_data() -> None:
    from baseline_kit import make_batch, make_spec

    with pytest.raises(ValueError, match="model 'ar' needs the task's data file"):
        build_model("ar", make_spec(data_path=None))(make_batch(8))
    assert build_model("ar", make_spec()).num_parameters(trainable_only=False) == 0
