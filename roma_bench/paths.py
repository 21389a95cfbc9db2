"""Default locations of generated data, runs and leaderboards (all relative to the working directory).

Override with ``ROMA_BENCH_DATA``, ``ROMA_BENCH_RUNS`` and ``ROMA_BENCH_LEADERBOARDS``.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Folder of generated task stores (default ``./data``)."""
    return Path(os.environ.get("ROMA_BENCH_DATA", "data"))


def task_data_path(task: str) -> Path:
    """Default HDF5 store of ``task``: ``<data_dir>/<task>.h5``."""
    return data_dir() / f"{task}.h5"


def runs_dir() -> Path:
    """Folder of checkpoints, plots and the local MLflow store (default ``./runs``)."""
    return Path(os.environ.get("ROMA_BENCH_RUNS", "runs"))


def default_tracking_uri() -> str:
    """The embedded MLflow store: SQLite at ``<runs_dir>/mlflow.db``."""
    return f"sqlite:///{(runs_dir() / 'mlflow.db').resolve()}"


def leaderboard_dir() -> Path:
    """Folder of the generated leaderboards (default ``./leaderboards``)."""
    return Path(os.environ.get("ROMA_BENCH_LEADERBOARDS", "leaderboards"))
