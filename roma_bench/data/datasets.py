"""Task windows as torch Datasets, for the harness and for anyone's own training loop.

- :class:`TrainWindows`: item ``k`` is the ``k``-th training batch, a pure function of the
  store, ``seed``, the noise level, the learning task and ``k`` (the harness trains step ``k``
  on item ``k``; a resumed run sees the same batches). Under data parallelism rank ``r`` of
  ``w`` takes item ``s·w + r`` at step ``s`` (:func:`rank_item`).
- :class:`EvalWindows`: the stored evaluation windows of ``val``/``test`` (``/windows/<split>``),
  in stored order, each over the whole held-out subgraph with clean targets and ``future``.

Items are :class:`~roma_bench.data.batch.Batch` objects (shapes in its docstring; ``edge_index``
``[2, E]`` int64 local ids next to the DGLGraph). Each item is already a whole batch, so use
``DataLoader(dataset, batch_size=None, num_workers=...)``. The HDF5 store is opened lazily,
once per process, so worker processes never share a file handle.

>>> windows = TrainWindows("km-tiny", seed=0, length=1000)       # doctest: +SKIP
>>> loader = DataLoader(windows, batch_size=None, num_workers=2)  # doctest: +SKIP
>>> batch = next(iter(loader))  # batch.history [n, κ], batch.target [n, H], batch.edge_index [2, E]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from roma_bench.cards import load_card
from roma_bench.data.batch import Batch
from roma_bench.data.generation import generate_task
from roma_bench.data.loader import WindowLoader
from roma_bench.data.store import TaskStore
from roma_bench.data.windows import Split, step_seed
from roma_bench.paths import task_data_path

__all__ = ["EvalWindows", "TrainWindows", "rank_item", "resolve_store_path", "step_seed"]

#: ``len(TrainWindows(...))`` when no ``length`` is given (effectively unbounded).
UNBOUNDED = 2**31 - 1


def rank_item(step: int, rank: int = 0, world_size: int = 1) -> int:
    """The training item rank ``rank`` of ``world_size`` takes at ``step``: ``step·w + rank``."""
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} of world_size {world_size}: expected 0 ≤ rank < world_size")
    if step < 0:
        raise IndexError(f"training step {step}: expected ≥ 0")
    return step * world_size + rank


def resolve_store_path(task: Any, generate: bool = True, progress: bool = False) -> Path:
    """The HDF5 store behind ``task``: a :class:`TaskStore`, a path to a ``.h5`` file, or a
    task name (its store at :func:`roma_bench.paths.task_data_path`, generated when missing
    unless ``generate`` is False)."""

    if isinstance(task, TaskStore):
        return task.path
    path = Path(task)
    if path.suffix == ".h5" or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such task store")
        return path

    card = load_card(str(task))
    path = task_data_path(card.name)
    if not path.exists():
        if not generate:
            raise FileNotFoundError(
                f"task {card.name!r}: no data at {path}; run `roma-bench generate {card.name}`"
            )

        path = Path(generate_task(card, out=path, progress=progress))
    return path


class _LazyLoader:
    """A :class:`~roma_bench.data.loader.WindowLoader` opened on first use in each process."""

    def __init__(self, task: Any, split: Split, **loader_args: Any) -> None:
        self.path = resolve_store_path(task)
        self.split, self.loader_args = split, loader_args
        # a store handed in is reused in the process that made this dataset
        self._opened: tuple[int, Any] | None = None
        if isinstance(task, TaskStore):
            self._store_pid: tuple[int, Any] | None = (os.getpid(), task)
        else:
            self._store_pid = None

    def get(self):
        pid = os.getpid()
        if self._opened is None or self._opened[0] != pid:
            if self._store_pid is not None and self._store_pid[0] == pid:
                store = self._store_pid[1]
            else:
                store = TaskStore(self.path)
            self._opened = (pid, WindowLoader(store, self.split, **self.loader_args))
        return self._opened[1]

    def __getstate__(self) -> dict[str, Any]:
        # a worker process gets the path only and opens its own HDF5 handle
        return {**self.__dict__, "_opened": None, "_store_pid": None}


class TrainWindows(Dataset):
    """Training batches of a task: item ``k`` is the ``k``-th batch of stream ``seed``.

    Args:
        task: a task name (``"km-tiny"``), a path to its ``.h5`` store or an open ``TaskStore``.
        seed: the stream. Item ``k`` draws its subgraph, window start and noise from
            ``step_seed(seed, k)`` alone, so items can be read in any order, in any process.
        length: ``len()`` of the dataset (default: unbounded, ``2**31 - 1``).
        noise: the observation-noise σ of inputs and targets (``None``: the card's ``noise``).
        rank, world_size: data parallelism; this dataset's item ``s`` is the stream's item
            ``s·world_size + rank`` (:func:`rank_item`).
        train_nodes: draw the subgraphs from this fraction of the training nodes only (a
            connected region, nested across fractions; data scaling). Default: all.

    Each item is a :class:`Batch`: a random-walk subgraph of about ``card.batch.nodes``
    training nodes (``n``) with ``history`` ``[n, κ]`` (frames ``t0-κ+1 … t0``), ``target``
    ``[n, H]`` (``t0+1 … t0+H``), ``edge_index`` ``[2, E]`` (int64, local ids, both
    directions), ``coarse_target`` ``[m, H, C]``, encodings, coordinates and ``t0``. With
    noise on, history, target and coarse target are noised (see :mod:`roma_bench.data.noise`).
    """

    def __init__(
        self,
        task: Any,
        seed: int = 0,
        length: int | None = None,
        noise: float | None = None,
        rank: int = 0,
        world_size: int = 1,
        train_nodes: float = 1.0,
    ) -> None:
        rank_item(0, rank, world_size)  # validates rank / world_size
        if length is not None and length < 0:
            raise ValueError(f"length {length}: expected ≥ 0")
        self.seed, self.rank, self.world_size = int(seed), int(rank), int(world_size)
        self.length = UNBOUNDED if length is None else int(length)
        self._loader = _LazyLoader(
            task, "train", seed=self.seed, noise=noise, train_nodes=train_nodes
        )

    @property
    def path(self) -> Path:
        """The task's HDF5 store."""
        return self._loader.path

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, step: int) -> Batch:
        if not 0 <= step < self.length:
            raise IndexError(f"training item {step}: expected 0 ≤ item < {self.length}")
        item = rank_item(int(step), self.rank, self.world_size)
        return self._loader.get().sample(seed=step_seed(self.seed, item))

    def __repr__(self) -> str:
        return (
            f"TrainWindows({str(self.path)!r}, seed={self.seed}, length={self.length}, "
            f"rank={self.rank}, world_size={self.world_size})"
        )


class EvalWindows(Dataset):
    """The stored evaluation windows of ``split`` (``val`` or ``test``), in stored order.

    Item ``i`` is the window ``t0 = /windows/<split>[i]`` over the whole held-out subgraph
    (``n`` = the split's nodes in ``/split/<split>`` order): clean ``history`` ``[n, κ]``,
    ``target`` ``[n, H]``, ``future`` ``[n, R]`` (``t0+1 … t0+R``) and ``edge_index`` ``[2, E]``.
    """

    def __init__(self, task: Any, split: Split = "test") -> None:
        if split not in ("val", "test"):
            raise ValueError(f"split {split!r}: expected 'val' or 'test' (train is never scored)")
        self.split = split
        self._loader = _LazyLoader(task, split)

    @property
    def path(self) -> Path:
        return self._loader.path

    def batches(self) -> list[Batch]:
        """Every window (read once per process, then cached)."""
        return self._loader.get().batches()

    def __len__(self) -> int:
        return len(self._loader.get())

    def __getitem__(self, index: int) -> Batch:
        return self.batches()[index]
