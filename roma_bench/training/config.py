"""Validated training configuration (what ``roma-bench train --config FILE`` reads).

``--set key=value`` overrides any field: ``--set optim.lr=3e-4``,
``--set model.enc_width=64`` (``model`` holds the model's own config overrides).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from roma_bench.config import StrictModel
from roma_bench.limits import SEED_MAX, STEPS_MAX


class OptimConfig(StrictModel):
    """AdamW with linear warm-up then cosine decay to ``min_lr_ratio·lr``; gradient-norm clipping."""

    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(20, ge=0, le=STEPS_MAX)
    min_lr_ratio: float = Field(0.05, ge=0, le=1)
    grad_clip: float | None = Field(1.0, gt=0)


class TrainConfig(StrictModel):
    """One training run of ``model_name`` on ``task`` (a task card name)."""

    model_name: str
    task: str
    size: str = "tiny"
    seed: int = Field(0, ge=0, lt=SEED_MAX)
    steps: int = Field(300, gt=0, le=STEPS_MAX)
    learning_task: Literal["forecast", "effective"] = "forecast"
    model: dict[str, Any] = Field(default_factory=dict, description="model config overrides")
    optim: OptimConfig = OptimConfig()
    loss: Literal["mse", "smspe"] = Field(
        "mse",
        description="mse: on the normalized targets (default); smspe: the ROMA paper's loss, "
        "on the decoded predictions",
    )
    normalization: Literal["increments", "none"] = Field(
        "increments",
        description="inputs/targets of learned models: increments from the last frame in the "
        "task's stored scale (default), or none (raw, for ablation)",
    )
    noise: float | None = Field(None, ge=0, description="override the card's noise σ")
    train_nodes: float = Field(
        1.0,
        gt=0,
        le=1,
        description="fraction of the training nodes the training subgraphs are drawn from: a "
        "connected region, nested across fractions (data scaling); validation and test "
        "are unchanged",
    )
    val_every: int = Field(50, gt=0, le=STEPS_MAX)
    val_batches: int = Field(4, gt=0, le=STEPS_MAX)
    checkpoint_every: int = Field(100, gt=0, le=STEPS_MAX)
    early_stopping_patience: int | None = Field(None, gt=0, description="in validation rounds")
    divergence_factor: float = Field(1e4, gt=1, description="stop if loss > factor·initial loss")
    num_workers: int = Field(
        1,
        ge=0,
        le=16,
        description="DataLoader worker processes preparing training batches while the model "
        "steps (0: in the training process; the batches are the same either way)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = True
    init_checkpoint: str | None = Field(None, description="start from these weights (fine-tuning)")
    log_every: int = Field(
        10, gt=0, le=STEPS_MAX, description="log the training loss every this many steps"
    )
    evaluate_test: bool = Field(True, description="score the test split at the end of training")
    plots: bool = Field(True, description="save loss/rollout/R(t) plots as run artifacts")
