"""The harness's view of a task's data: a spec, resumable training batches, held-out batches.

:func:`open_task_data` opens the task's HDF5 store (generating it first when it
is missing, at :func:`roma_bench.paths.task_data_path`) and wraps the loader of
:mod:`roma_bench.data.loader`. Training batches are a pure function of
``(seed, step)``, so a resumed run sees exactly the batches an uninterrupted
run would have seen: step ``k`` trains on item ``k`` of the task's
:class:`~roma_bench.data.datasets.TrainWindows`, the same Dataset users read, prepared
ahead by DataLoader workers (:func:`training_batches`).
"""

from __future__ import annotations

import copyreg
import io
import pickle
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from roma_bench.cards import load_card
from roma_bench.data import TaskStore, generate_task, task_spec
from roma_bench.data.batch import Batch
from roma_bench.data.datasets import TrainWindows
from roma_bench.data.loader import WindowLoader
from roma_bench.data.windows import step_seed
from roma_bench.models.base import TaskSpec
from roma_bench.paths import task_data_path

__all__ = ["StoreTaskData", "TaskData", "open_task_data", "step_seed", "training_batches"]


class TaskData(Protocol):
    """What the trainer and the evaluator need from a task."""

    spec: TaskSpec
    version: str
    checksum: str
    path: Path | None
    #: the stored training-split normalization, ``{'increment_scale': s[, 'level_scale': ℓ]}``
    normalization: dict[str, float]

    #: the training batches, ``train_windows[k]`` the batch of step ``k`` (noisy if the task
    #: has noise); deterministic in ``(seed, k)`` — a :class:`TrainWindows` for real stores
    train_windows: Sequence[Batch]

    def eval_batches(self, split: str) -> list[Batch]:
        """The held-out ``val`` or ``test`` batches (clean targets, ``future`` for rollouts)."""


@dataclass
class StoreTaskData:
    """:class:`TaskData` over a :class:`roma_bench.data.store.TaskStore` and its loader."""

    store: Any
    spec: TaskSpec
    seed: int
    noise: float | None
    path: Path | None = None
    #: fraction of the training nodes the training subgraphs come from (data scaling)
    train_nodes: float = 1.0
    _train_windows: Any = None
    _eval_cache: dict[str, list[Batch]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.store.version)

    @property
    def checksum(self) -> str:
        return str(self.store.checksum)

    @property
    def normalization(self) -> dict[str, float]:
        return dict(self.store.normalization)

    def _loader(self, split: str, seed: int):
        return WindowLoader(self.store, split=split, seed=seed, noise=self.noise)

    @property
    def train_windows(self):
        """The task's :class:`~roma_bench.data.datasets.TrainWindows` for this seed and noise."""

        if self._train_windows is None:
            self._train_windows = TrainWindows(
                self.store, seed=self.seed, noise=self.noise, train_nodes=self.train_nodes
            )
        return self._train_windows

    def train_windows_for(self, rank: int, world_size: int):
        """Rank ``rank`` of ``world_size``'s share of the stream: its item ``s`` is ``s·w + r``."""

        return TrainWindows(
            self.store, seed=self.seed, noise=self.noise,
            rank=rank, world_size=world_size, train_nodes=self.train_nodes,
        )  # fmt: skip

    def eval_batches(self, split: str) -> list[Batch]:
        if split not in ("val", "test"):
            raise ValueError(f"split {split!r}: expected 'val' or 'test' (train is never scored)")
        if split not in self._eval_cache:
            self._eval_cache[split] = list(self._loader(split, self.seed))
        return self._eval_cache[split]


def open_task_data(
    task: str,
    learning_task: str = "forecast",
    seed: int = 0,
    noise: float | None = None,
    data_path: str | Path | None = None,
    generate: bool = True,
    progress: bool = True,
    train_nodes: float = 1.0,
) -> TaskData:
    """Open (and if needed generate) the store of ``task``; returns its :class:`TaskData`
    (``train_nodes``: the fraction of training nodes its training batches come from)."""

    card = load_card(task)
    path = Path(data_path) if data_path is not None else task_data_path(card.name)
    if not path.exists():
        if not generate:
            raise FileNotFoundError(
                f"task {card.name!r}: no data at {path}; run `roma-bench generate {card.name}`"
            )

        if progress:
            print(f"generating task {card.name} at {path} (first use)", file=sys.stderr)
        path = Path(generate_task(card, out=path, progress=progress))
    store = TaskStore(path)
    spec = task_spec(store.card, learning_task, str(path))
    return StoreTaskData(
        store=store, spec=spec, seed=seed, noise=noise, path=path, train_nodes=train_nodes
    )


def _keep(batch: Any) -> Any:
    """The DataLoader's collate step: a :class:`Batch` (or its bytes) is already one batch."""
    return batch


def _reduce_tensor(tensor: torch.Tensor) -> tuple:
    """Pickle a plain CPU tensor as its numpy array: unpickling it is a copy, where torch's
    own reduction runs ``torch.load`` per tensor (~70 µs each, ~1 ms for a km-tiny Batch)."""
    if (
        tensor.requires_grad
        or tensor.layout != torch.strided
        or tensor.device.type != "cpu"
        or tensor.dtype == torch.bfloat16  # no numpy dtype
        or tensor.is_conj()
        or tensor.is_neg()
    ):
        return tensor.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    return torch.from_numpy, (tensor.numpy(),)


class _TensorsAsArrays(pickle.Pickler):
    """A pickler that writes every plain CPU :class:`torch.Tensor` as a numpy array."""

    dispatch_table = copyreg.dispatch_table.copy()
    dispatch_table[torch.Tensor] = _reduce_tensor


def dumps(item: Any) -> bytes:
    """``item`` as pickle bytes, plain CPU tensors as numpy arrays; read with ``pickle.loads``."""
    buffer = io.BytesIO()
    _TensorsAsArrays(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(item)
    return buffer.getvalue()


class _Pickled(Dataset):
    """``items[k]`` as pickle bytes (:func:`dumps`): a worker hands the training process one
    buffer.

    Without it the DataLoader moves every tensor of a :class:`Batch` (history, target,
    encodings, the graph's index and node data: ~20) through its own shared-memory
    segment, and opening them cost the training process 6–10 ms per batch on km-tiny,
    a third of a gcn step; one 160 kB buffer costs ~1.5 ms to receive and unpickle
    (0.15 ms of it unpickling, with the tensors as numpy arrays).
    """

    def __init__(self, items: Dataset) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> bytes:
        return dumps(self.items[index])


def training_batches(
    items: Dataset, start: int, stop: int, num_workers: int = 0
) -> Iterator[Batch]:
    """Items ``start … stop−1`` of ``items`` in order, prepared by ``num_workers`` processes.

    Item ``k`` of a :class:`~roma_bench.data.datasets.TrainWindows` depends on
    ``(seed, k)`` alone, so the sequence is the same for any ``num_workers``: with workers,
    a :class:`torch.utils.data.DataLoader` prepares the next batches (two per worker ahead)
    while the training process runs the model step; each worker opens its own handle on
    the store, runs torch with one thread and sends each batch as one pickled buffer
    (:class:`_Pickled`).
    """
    if start >= stop:
        return iter(())
    if num_workers == 0:
        return (items[k] for k in range(start, stop))
    loader = DataLoader(
        _Pickled(items),
        batch_size=None,
        sampler=range(start, stop),
        num_workers=num_workers,
        collate_fn=_keep,
        prefetch_factor=2,
    )
    return (pickle.loads(data) for data in loader)
