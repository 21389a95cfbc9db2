"""The harness's view of a task's data: a spec, resumable training batches, held-out batches.

:func:`open_task_data` opens the task's HDF5 store (generating it first when it
is missing, at :func:`roma_bench.paths.task_data_path`) and wraps the loader of
:mod:`roma_bench.data.loader`. Training batches are a pure function of
``(seed, step)``, so a resumed run sees exactly the batches an uninterrupted
run would have seen.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from roma_bench.data.batch import Batch
from roma_bench.models.base import TaskSpec


def step_seed(seed: int, step: int) -> int:
    """A 63-bit seed derived from ``(seed, step)`` (stable across processes and platforms)."""
    digest = hashlib.blake2b(f"{seed}:{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class TaskData(Protocol):
    """What the trainer and the evaluator need from a task."""

    spec: TaskSpec
    version: str
    checksum: str
    path: Path | None
    #: the stored training-split normalization, ``{'increment_scale': s[, 'level_scale': ℓ]}``
    normalization: dict[str, float]

    def train_batch(self, step: int) -> Batch:
        """The training batch of ``step`` (noisy if the task has noise); deterministic."""

    def eval_batches(self, split: str) -> list[Batch]:
        """The held-out ``val`` or ``test`` batches (clean targets, ``future`` for rollouts)."""


@dataclass
class StoreTaskData:
    """:class:`TaskData` over a :class:`roma_bench.data.store.TaskStore` and its loader."""

    store: Any
    spec: TaskSpec
    learning_task: str
    seed: int
    noise: float | None
    path: Path | None = None
    _train_loader: Any = None
    _stream: Any = None
    _next_step: int = 0
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
        from roma_bench.data.loader import WindowLoader

        return WindowLoader(
            self.store, split=split, learning_task=self.learning_task, seed=seed, noise=self.noise
        )

    def train_batch(self, step: int) -> Batch:
        if self._train_loader is None:
            self._train_loader = self._loader("train", self.seed)
        loader = self._train_loader
        seed = step_seed(self.seed, step)
        if "seed" in inspect.signature(loader.sample).parameters:  # a loader seeded per call
            return loader.sample(seed=seed)
        generators = [getattr(loader, name, None) for name in ("_generator", "_noise_generator")]
        if all(isinstance(g, torch.Generator) for g in generators):
            # WindowLoader draws everything random from these two generators: reseed per step.
            sample_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
            generators[0].manual_seed(int(sample_seed))
            generators[1].manual_seed(int(noise_seed))
            return loader.sample()
        # A plain stream seeded once: replay it up to ``step`` when asked out of order.
        if self._stream is None or self._next_step != step:
            self._stream = iter(self._loader("train", self.seed))
            for _ in range(step):
                next(self._stream)
            self._next_step = step
        self._next_step += 1
        return next(self._stream)

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
) -> TaskData:
    """Open (and if needed generate) the store of ``task``; returns its :class:`TaskData`."""
    from roma_bench.cards import load_card
    from roma_bench.data import TaskStore, task_spec
    from roma_bench.paths import task_data_path

    card = load_card(task)
    path = Path(data_path) if data_path is not None else task_data_path(card.name)
    if not path.exists():
        if not generate:
            raise FileNotFoundError(
                f"task {card.name!r}: no data at {path}; run `roma-bench generate {card.name}`"
            )
        from roma_bench.data import generate_task

        if progress:
            print(f"generating task {card.name} at {path} (first use)", file=sys.stderr)
        path = Path(generate_task(card, out=path, progress=progress))
    store = TaskStore(path)
    spec = task_spec(store.card, learning_task, str(path))
    return StoreTaskData(
        store=store, spec=spec, learning_task=learning_task, seed=seed, noise=noise, path=path
    )
