"""``run.json``: what a run folder holds before its first checkpoint.

Written (atomically) as soon as a training run has its MLflow run id, before the first
optimizer step: ``{"run_id": ..., "config": <TrainConfig as JSON>}``. A run killed before
its first checkpoint (``last.safetensors``) can then be resumed: it continues the same
MLflow run from step 0, with the same config, and ends as an uninterrupted run would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from roma_bench.checkpoint_format import CheckpointError
from roma_bench.files import atomic_write_text
from roma_bench.training.checkpointing import STATE_FILE, read_checkpoint_extra
from roma_bench.training.config import TrainConfig

RUN_FILE = "run.json"


def write_run_record(out_dir: Path, run_id: str, config: TrainConfig) -> Path:
    """Atomically write ``out_dir/run.json`` (run id and config)."""
    path = Path(out_dir) / RUN_FILE
    record = {"run_id": run_id, "config": config.model_dump(mode="json")}
    return atomic_write_text(path, json.dumps(record, indent=1))


def _record(folder: Path) -> dict[str, Any] | None:
    """``run.json`` of ``folder`` when the folder has no training state yet, else None."""
    if (folder / STATE_FILE).exists() or not (folder / RUN_FILE).is_file():
        return None

    try:
        return json.loads((folder / RUN_FILE).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{folder / RUN_FILE}: damaged ({err})") from None


def resume_run_id_of(folder: Path) -> str:
    """The MLflow run id a run folder continues (from its training state, else ``run.json``)."""
    record = _record(folder)
    if record is not None:
        return str(record["run_id"])
    return read_checkpoint_extra(folder / STATE_FILE)["bookkeeping"]["run_id"]


def resume_config_of(folder: Path) -> tuple[dict[str, Any], str]:
    """``(config as JSON, where it was read)`` of a run folder, for ``--resume``."""
    record = _record(folder)
    if record is not None:
        return record["config"], str(folder / RUN_FILE)
    extra = read_checkpoint_extra(folder / STATE_FILE)
    return extra["bookkeeping"]["config"], str(folder / STATE_FILE)
