"""The tag schema of every run the harness opens: ``roma.<key>`` for the keys below.

Everything that writes or reads a harness tag names it through :func:`tag` (``tag("seed")``
→ ``"roma.seed"``), so a tag's spelling lives here only.
"""

from __future__ import annotations

TAG = "roma."
TAG_KEYS = (
    "task", "task_version", "data_checksum", "model", "size", "seed", "learning_task",
    "command", "out_dir", "status", "failure", "num_parameters", "wall_time_s",
    "cpu_peak_memory_mb", "gpu_peak_memory_mb", "learnable", "steps_done", "stopped_early",
    "leaderboard", "leaderboard_command", "study", "host", "pid", "heartbeat",
    "started_at_commit", "interrupted", "stopped_ms",
)  # fmt: skip


def tag(key: str) -> str:
    """The full MLflow tag name of a harness tag ``key`` (``roma.<key>``)."""
    return f"{TAG}{key}"
