"""Score predictions made by any code: :func:`evaluate_predictions` and predictions files.

A submission is one array ``predictions`` ``[W, n, R]`` per seed (float, finite):

- ``W``: the split's stored evaluation windows, in stored order (``/windows/<split>``, each
  named by ``t0``, the frame index of its last history frame);
- ``n``: the split's held-out nodes, in ``/split/<split>`` order;
- ``R``: the card's rollout frames (``window.rollout``): ``predictions[w, i, k]`` is the
  field (Kuramoto: unwrapped phase θ; social: activity u) of node ``i`` at frame ``t0+1+k``.

The first ``H`` frames are scored as the one-step forecast, frames ``h`` ∈ {1, 4, 16} as the
rollout (how the trajectory was produced, e.g. autoregressively, is the submitter's business).
Scores come from the harness's own functions (:func:`roma_bench.training.evaluate.
evaluate_model`, :class:`~roma_bench.training.evaluators.TaskEvaluator`): per window, then
the node-weighted mean over windows, exactly as the boards score a trained model. Coarse
scores aggregate the fine prediction over the card's partition; no PDE residual.

A predictions file (``.h5``: dataset ``predictions`` and attributes; ``.npz``: arrays) also
carries ``task``, ``split`` and ``data_checksum``; :func:`save_predictions` writes one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from roma_bench.data.datasets import EvalWindows, resolve_store_path
from roma_bench.data.spec import task_spec
from roma_bench.data.store import TaskStore
from roma_bench.models.base import ModelOutput
from roma_bench.training.evaluate import evaluate_model
from roma_bench.training.evaluators import EvaluationError

__all__ = [
    "EvaluationError",
    "PredictionsFile",
    "evaluate_predictions",
    "load_predictions",
    "save_predictions",
]

FILE_KEYS = ("task", "split", "data_checksum")


class _Replay(nn.Module):
    """A "model" that returns the submitted trajectory of each window (keyed by ``t0``)."""

    def __init__(self, trajectories: dict[float, Tensor], horizon: int) -> None:
        super().__init__()
        self.trajectories, self.horizon = trajectories, horizon

    def forward(self, batch):
        return ModelOutput(prediction=self.trajectories[batch.t0][:, : self.horizon])

    def rollout(self, batch, frames: int) -> Tensor:
        return self.trajectories[batch.t0][:, :frames]


def _open(task: Any):
    if isinstance(task, TaskStore):
        return task
    return TaskStore(resolve_store_path(task))


def _check_split(split: str) -> None:
    if split not in ("val", "test"):
        raise EvaluationError(f"split {split!r}: expected 'val' or 'test' (train is never scored)")


def expected_shape(store, split: str) -> str:
    """A sentence naming the array :func:`evaluate_predictions` accepts for ``split``."""
    card = store.card
    windows, nodes = len(store.windows(split)), len(getattr(store.split, split))
    what = "unwrapped phases θ" if card.system == "kuramoto" else "activity u"
    rollout = card.window.rollout
    return (
        f"a finite float array [W={windows}, n={nodes}, R={rollout}]: the {windows} windows of "
        f"/windows/{split} in stored order, the {nodes} nodes of /split/{split} in that order, "
        f"and the {what} at frames t0+1..t0+{rollout}"
    )


def check_predictions(store, split: str, predictions: Any) -> Tensor:
    """Validate ``predictions`` for ``split`` of ``store``; returns them as float32 ``[W, n, R]``.

    Raises :class:`EvaluationError` naming what was expected and what came.
    """
    name = f"evaluate_predictions({store.card.name} v{store.version}, {split})"
    expected = expected_shape(store, split)
    if isinstance(predictions, Tensor):
        predictions = predictions.detach().cpu().numpy()
    if not isinstance(predictions, np.ndarray):
        raise EvaluationError(
            f"{name}: predictions must be a numpy array or torch tensor, got "
            f"{type(predictions).__name__}; expected {expected}"
        )
    shape = (len(store.windows(split)), len(getattr(store.split, split)), store.card.window.rollout)
    if predictions.shape != shape:
        raise EvaluationError(
            f"{name}: predictions have shape {list(predictions.shape)}, expected {list(shape)}; "
            f"expected {expected}"
        )
    if not np.issubdtype(predictions.dtype, np.floating):
        raise EvaluationError(
            f"{name}: predictions have dtype {predictions.dtype}, expected a float dtype"
        )
    bad = ~np.isfinite(predictions)
    if bad.any():
        first = [int(i) for i in np.argwhere(bad)[0]]
        raise EvaluationError(
            f"{name}: predictions have {int(bad.sum())} non-finite value(s) (NaN or inf; first "
            f"at [window, node, frame] = {first}); expected finite values"
        )
    return torch.from_numpy(np.ascontiguousarray(predictions, dtype=np.float32))


def evaluate_predictions(task: Any, split: str, predictions: Any) -> dict[str, float]:
    """Every fine-scale board metric of ``predictions`` ``[W, n, R]`` (module docstring).

    ``task``: a task name, the path of its store, or an open ``TaskStore``. ``predictions``:
    a numpy array or torch tensor. Returns ``{metric: value}`` (``delta_nrmse``, ``nrmse``,
    ``smspe``, ``rollout_nrmse_h1/4/16``, the system's own, the coarse errors): the numbers
    a board shows for one seed.
    """

    _check_split(split)
    store = _open(task)
    trajectories = check_predictions(store, split, predictions)
    batches = EvalWindows(store, split).batches()
    replay = _Replay(
        {batch.t0: trajectories[w] for w, batch in enumerate(batches)}, store.card.window.horizon
    )
    return evaluate_model(replay, batches, task_spec(store.card, "forecast", store.path))


class PredictionsFile:
    """A loaded predictions file: ``predictions`` ``[W, n, R]`` and its ``task``, ``split``,
    ``data_checksum``."""

    def __init__(self, path: Path, predictions: np.ndarray, meta: dict[str, str]) -> None:
        self.path, self.predictions = path, predictions
        self.task, self.split, self.data_checksum = (meta[k] for k in FILE_KEYS)


def save_predictions(path: str | Path, task: Any, split: str, predictions: Any) -> Path:
    """Write ``predictions`` ``[W, n, R]`` with the task name, split and data checksum.

    ``.h5``: dataset ``predictions``, attributes ``task``, ``split``, ``data_checksum``,
    ``task_version``; ``.npz``: arrays of the same names.
    """
    _check_split(split)
    store = _open(task)
    array = check_predictions(store, split, predictions).numpy()
    meta = {
        "task": store.card.name,
        "split": split,
        "data_checksum": str(store.checksum),
        "task_version": str(store.version),
    }
    path = Path(path)
    if path.suffix == ".h5":
        import h5py

        with h5py.File(path, "w") as f:
            f.create_dataset("predictions", data=array)
            f.attrs.update(meta)
    elif path.suffix == ".npz":
        np.savez_compressed(path, predictions=array, **{k: np.array(v) for k, v in meta.items()})
    else:
        raise EvaluationError(f"{path}: a predictions file ends in .h5 or .npz")
    return path


def load_predictions(path: str | Path) -> PredictionsFile:
    """Read a predictions file (``.h5`` or ``.npz``); refuses one missing a field."""
    path = Path(path)
    if not path.is_file():
        raise EvaluationError(f"{path}: no such predictions file")
    meta: dict[str, str] = {}
    if path.suffix == ".h5":
        import h5py

        with h5py.File(path, "r") as f:
            if "predictions" not in f:
                raise EvaluationError(f"{path}: no dataset 'predictions' [W, n, R]")
            array = f["predictions"][()]
            for key in FILE_KEYS:
                if key in f.attrs:
                    value = f.attrs[key]
                    meta[key] = value.decode() if isinstance(value, bytes) else str(value)
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            if "predictions" not in f:
                raise EvaluationError(f"{path}: no array 'predictions' [W, n, R]")
            array = f["predictions"]
            meta = {key: str(f[key]) for key in FILE_KEYS if key in f}
    else:
        raise EvaluationError(f"{path}: a predictions file ends in .h5 or .npz")
    missing = [key for key in FILE_KEYS if key not in meta]
    if missing:
        raise EvaluationError(
            f"{path}: missing {', '.join(missing)}; a predictions file carries the task name, "
            f"split and data checksum (write it with roma_bench.save_predictions)"
        )
    return PredictionsFile(path, array, meta)


def evaluate_predictions_file(
    path: str | Path, task: Any, split: str = "test"
) -> tuple[dict[str, float], Any]:
    """Load ``path``, refuse it unless it was made for ``task``'s ``split`` and data; score it.

    Returns ``(scores, store)``.
    """
    _check_split(split)
    loaded = load_predictions(path)
    store = _open(task)
    wanted = {"task": store.card.name, "split": split, "data_checksum": str(store.checksum)}
    for key, value in wanted.items():
        got = getattr(loaded, key)
        if got != value:
            raise EvaluationError(
                f"{path}: made for {key} {got!r}, but evaluating {key} {value!r}; predictions "
                f"are scored only on the task, split and data they were made for"
            )
    return evaluate_predictions(store, split, loaded.predictions), store
