"""Training checkpoints: everything needed to continue a run bit for bit, without pickle.

Two files per run folder (``out_dir``):

- ``last.safetensors``: the training state after step ``step`` — model weights, AdamW and
  scheduler state, the AMP grad-scaler state, the RNG states, the early-stopping
  bookkeeping and the loss history. ``--resume`` continues from it.
- ``model.safetensors``: the weights to evaluate (the best validation loss so far), with the
  task version, data checksum and run id; what ``roma-bench evaluate --checkpoint`` reads.

Both are written atomically by :func:`roma_bench.models.base.save_checkpoint` in the
safetensors + JSON format of :mod:`roma_bench.checkpoint_format`; reading them never
unpickles. A folder holding only the pickled files of older versions (``last.pt``,
``model.pt``) is refused with the command that converts them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from roma_bench.checkpoint_format import (
    CheckpointError,
    LegacyCheckpointError,
    legacy_message,
    read_checkpoint,
)
from roma_bench.errors import InputError
from roma_bench.models.base import ForecastModel, save_checkpoint

STATE_FILE = "last.safetensors"
MODEL_FILE = "model.safetensors"
LEGACY_FILES = {STATE_FILE: "last.pt", MODEL_FILE: "model.pt"}


def rng_state() -> dict[str, Any]:
    """Torch RNG states (CPU, and CUDA when available) as tensors."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_training_state(
    out_dir: Path,
    model: ForecastModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.cuda.amp.GradScaler | None,
    *,
    step: int,
    bookkeeping: dict[str, Any],
) -> Path:
    """Atomically write ``out_dir/last.safetensors`` after ``step`` optimizer steps."""
    return save_checkpoint(
        model,
        Path(out_dir) / STATE_FILE,
        kind="training_state",
        step=step,
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        scaler=scaler.state_dict() if scaler is not None else None,
        rng=rng_state(),
        bookkeeping=bookkeeping,
    )


def load_training_state(
    out_dir: Path,
    model: ForecastModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    scaler: torch.cuda.amp.GradScaler | None,
) -> tuple[int, dict[str, Any]]:
    """Restore ``out_dir/last.safetensors`` into the given objects; returns ``(step, bookkeeping)``."""
    path = Path(out_dir) / STATE_FILE
    payload = read_checkpoint(_existing(path), map_location="cpu")
    extra = payload.get("extra", {})
    if extra.get("kind") != "training_state":
        raise CheckpointError(f"{path}: not a training-state checkpoint")
    if payload["model_name"] != model.name:
        raise InputError(
            f"{path}: holds model {payload['model_name']!r}, the config asks for {model.name!r}"
        )
    model.load_state_dict(payload["state_dict"])
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    if scaler is not None and extra.get("scaler") is not None:
        scaler.load_state_dict(extra["scaler"])
    set_rng_state(extra["rng"])
    return int(extra["step"]), dict(extra["bookkeeping"])


def _existing(path: Path) -> Path:
    """``path`` itself, or a refusal naming the legacy pickled file found in its place."""
    legacy = path.with_name(LEGACY_FILES.get(path.name, path.name))
    if not path.is_file() and legacy != path and legacy.is_file():
        raise LegacyCheckpointError(legacy_message(legacy))
    return path


def read_checkpoint_extra(path: str | Path) -> dict[str, Any]:
    """The ``extra`` metadata of a checkpoint file (JSON only: no weights are read)."""
    path = Path(path)
    payload = read_checkpoint(_existing(path), tensors=False)
    return dict(payload.get("extra", {}))
