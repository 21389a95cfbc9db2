"""What a model may know about its task (:class:`TaskSpec`), computed from the card alone."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from roma_bench.cards import TaskCard
from roma_bench.data.batch import STATE_SIZE, LearningTask, System
from roma_bench.dynamics.observables import COARSE_CHANNELS


@dataclass(frozen=True)
class TaskSpec:
    """What a model may know about the task it is built for.

    ``lookback`` κ and ``horizon`` H fix the history ``[n, κ]`` and prediction ``[n, H]``
    shapes; ``encoding_sizes`` = (Laplacian-eigenvector channels, random-walk channels)
    of ``Batch.encodings``; ``coarse_channels`` C of ``Batch.coarse_target``;
    ``data_path`` is the task's HDF5 store (only the ``oracle`` floor reads it).
    """

    name: str
    version: str
    system: System
    lookback: int
    horizon: int
    encoding_sizes: tuple[int, int]
    coarse_channels: int
    num_nodes: int
    frame_dt: float
    learning_task: LearningTask = "forecast"
    data_path: str | None = None

    @property
    def encoding_dim(self) -> int:
        return int(sum(self.encoding_sizes))

    @property
    def state_size(self) -> int:
        """``S``: channels of ``Batch.state`` (Kuramoto 2: cos, sin; social 1)."""
        return STATE_SIZE[self.system]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["encoding_sizes"] = list(self.encoding_sizes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaskSpec:
        data = dict(data)
        if "task" in data:  # checkpoints written before the field was named learning_task
            data["learning_task"] = data.pop("task")
        data["encoding_sizes"] = tuple(data["encoding_sizes"])
        return cls(**data)


LEARNING_TASKS: tuple[LearningTask, ...] = ("forecast", "effective")


def task_spec(
    card: TaskCard, learning_task: LearningTask = "forecast", data_path: str | Path | None = None
) -> TaskSpec:
    """What a model may know about ``card``: window sizes, encodings, channels, sizes.

    No data is read: ``num_nodes = card.graph.nodes``, ``encoding_sizes =
    (encodings.laplacian, encodings.random_walk)``, ``coarse_channels`` from
    :data:`roma_bench.dynamics.observables.COARSE_CHANNELS`, ``frame_dt = dt·save_every``.
    """
    if learning_task not in LEARNING_TASKS:
        raise ValueError(
            f"unknown learning task {learning_task!r}; expected one of {', '.join(LEARNING_TASKS)}"
        )
    return TaskSpec(
        name=card.name,
        version=card.version,
        system=card.system,
        lookback=card.window.lookback,
        horizon=card.window.horizon,
        encoding_sizes=(card.encodings.laplacian, card.encodings.random_walk),
        coarse_channels=COARSE_CHANNELS[card.system],
        num_nodes=card.graph.nodes,
        frame_dt=card.simulation.frame_dt,
        learning_task=learning_task,
        data_path=None if data_path is None else str(data_path),
    )
