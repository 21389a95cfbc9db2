"""The :class:`~roma_bench.models.base.TaskSpec` of a task, computed from its card alone."""

from __future__ import annotations

from pathlib import Path

from roma_bench.cards import TaskCard
from roma_bench.data.batch import LearningTask
from roma_bench.models.base import TaskSpec

LEARNING_TASKS: tuple[LearningTask, ...] = ("forecast", "effective")


def task_spec(
    card: TaskCard, learning_task: LearningTask = "forecast", data_path: str | Path | None = None
) -> TaskSpec:
    """What a model may know about ``card``: window sizes, encodings, channels, sizes.

    No data is read: ``num_nodes = card.graph.nodes``, ``encoding_sizes =
    (encodings.laplacian, encodings.random_walk)``, ``coarse_channels`` from
    :data:`roma_bench.dynamics.observables.COARSE_CHANNELS`, ``frame_dt = dt·save_every``.
    """
    from roma_bench.dynamics.observables import COARSE_CHANNELS

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
