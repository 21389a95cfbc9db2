"""The training loop behind :func:`roma_bench.training.fit.train` (one run's mutable state).

Each step: reseed every RNG from ``(seed, step)``, fetch the step's batch, forward
under autocast (CUDA only), guard against NaN/inf and divergence, backward (with a
grad scaler for fp16), clip the gradient norm, AdamW step, scheduler step. Validation
every ``val_every`` steps saves the best weights (``model.safetensors``) and drives early
stopping and Optuna pruning; ``last.safetensors`` is written every ``checkpoint_every`` steps.

A run continued from ``last.safetensors`` after its process was cut off records the stop in
its bookkeeping, ``book["stopped"] = [[from, to], …]`` (ms since the epoch, from the last
checkpoint's save to the continuation's first step; tag ``roma.stopped_ms``), so that a
board's measured time leaves out the hours between two sessions.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from roma_bench.data.batch import Batch
from roma_bench.data.datasets import TrainWindows
from roma_bench.data.windows import step_seed
from roma_bench.graphs import backend as graph_backend
from roma_bench.models.base import forecasts_only, load_checkpoint, save_checkpoint
from roma_bench.tracking.environment import cpu_peak_memory_mb, gpu_peak_memory_mb
from roma_bench.tracking.tags import tag
from roma_bench.training.checkpointing import (
    MODEL_FILE,
    load_training_state,
    save_training_state,
)
from roma_bench.training.config import TrainConfig
from roma_bench.training.data import training_batches
from roma_bench.training.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    TrainingObjective,
    data_parallel,
    mean_over_ranks,
)
from roma_bench.training.evaluate import evaluate_model
from roma_bench.training.losses import training_loss
from roma_bench.training.normalization import HarnessModel, harness_model
from roma_bench.training.report import run_plots
from roma_bench.training.schedules import build_optimizer


class TrainingDivergedError(RuntimeError):
    """The loss became NaN/inf or exceeded ``divergence_factor`` × its first value."""


@dataclass
class TrainResult:
    """Outcome of :func:`train`. ``metrics`` holds the test scores when they were computed."""

    run_id: str
    checkpoint: Path
    best_val_loss: float
    final_val_loss: float
    steps_done: int
    wall_time: float
    num_parameters: int
    status: str  # FINISHED | FAILED | PRUNED
    metrics: dict[str, float] = field(default_factory=dict)
    message: str = ""
    out_dir: Path | None = None


def seed_everything(seed: int) -> None:
    """Seed torch (all devices), numpy and, where it loads, DGL from one integer."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    graph_backend.seed(seed % 2**31)  # DGL's generator, where DGL loads


def _autocast(device: torch.device, enabled: bool):
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.cuda.amp.GradScaler() if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def epoch_ms() -> int:
    """Wall-clock time, milliseconds since the epoch (MLflow's unit for run times)."""
    return int(time.time() * 1000)


@torch.no_grad()
def validation_loss(
    model: HarnessModel, batches, config: TrainConfig, device: torch.device
) -> float:
    """Mean data loss (the training loss without auxiliary terms) on held-out batches."""
    was_training = model.training
    model.eval()
    try:
        values = []
        for batch in batches[: config.val_batches]:
            batch = batch.to(device)
            with forecasts_only(model):  # the data loss needs no PDE-residual diagnostic
                forward = model.run(batch)
            _, parts = training_loss(forward, batch, config.loss, model.spec.learning_task)
            values.append(parts["data_loss"])
    finally:
        model.train(was_training)
    return float(np.mean(values)) if values else float("nan")


class TrainingLoop:
    """The state of one training run: model, optimizer, scheduler, bookkeeping, MLflow run."""

    def __init__(
        self, config, model, data, device, run, out_dir, trial, progress, learnable,
        context: DistributedContext = SINGLE_PROCESS,
    ):  # fmt: skip

        self.config, self.model, self.data, self.device = config, model, data, device
        self.tracked, self.out_dir, self.trial, self.progress = run, out_dir, trial, progress
        self.learnable, self.context = learnable, context
        # the one place a model is put behind the harness's normalization (train, val, test)
        self.harness = harness_model(model, data.normalization, config.normalization)
        self.autocast, self.scaler = _autocast(device, config.amp)
        # what backward() runs through: the loss module, behind DDP under torchrun
        self.objective = data_parallel(
            TrainingObjective(self.harness, config, self.autocast), context
        )
        # rank r of w trains on item s·w + r of the stream at step s
        self.train_items = data.train_windows
        if context.enabled:
            self.train_items = data.train_windows_for(context.rank, context.world_size)
        self._batches: Iterator[Batch] | None = None
        self._batches_at = -1  # the step the next batch of self._batches is for
        self.optimizer = self.scheduler = None
        if learnable:
            self.optimizer, self.scheduler = build_optimizer(
                model.parameters(), config.optim, config.steps
            )
        self.step = 0
        self.book: dict[str, Any] = {
            "run_id": run.run_id,
            "best_val_loss": math.inf,
            "last_val_loss": math.nan,
            "bad_rounds": 0,
            "initial_loss": None,
            "stopped_early": False,
            "wall_time": 0.0,
            "train": [],
            "val": [],
            "config": config.model_dump(mode="json"),
        }
        self.pending: list[tuple[int, dict[str, float]]] = []

    def restore(self) -> None:
        self.step, self.book = load_training_state(
            self.out_dir, self.model, self.optimizer, self.scheduler, self.scaler
        )

    def save_state(self) -> None:
        self.book["saved_at"] = epoch_ms()  # where a stop would begin if this process dies
        if self.learnable and self.context.is_main:
            save_training_state(
                self.out_dir, self.model, self.optimizer, self.scheduler, self.scaler,
                step=self.step, bookkeeping=self.book,
            )  # fmt: skip

    def save_model(self) -> None:
        if not self.context.is_main:
            return
        save_checkpoint(
            self.model, self.out_dir / MODEL_FILE,
            task=self.data.spec.name, learning_task=self.config.learning_task,
            task_version=self.data.version, data_checksum=self.data.checksum,
            run_id=self.tracked.run_id, step=self.step,
            train_config=self.config.model_dump(mode="json"),
        )  # fmt: skip

    def flush(self) -> None:
        if self.pending:
            self.tracked.log_metric_series(self.pending)
            self.pending = []

    def validate(self) -> bool:
        """One validation round; returns True when early stopping says stop."""

        val = validation_loss(self.harness, self.data.eval_batches("val"), self.config, self.device)
        self.book["last_val_loss"] = val
        self.book["val"].append([self.step, val])
        self.pending.append((self.step, {"val_loss": val}))
        if val < self.book["best_val_loss"]:
            self.book["best_val_loss"], self.book["bad_rounds"] = val, 0
            self.save_model()
        else:
            self.book["bad_rounds"] += 1
        self.flush()
        if self.trial is not None:
            import optuna

            self.trial.report(val, self.step)
            if self.trial.should_prune():
                self.tracked.set_tags({tag("status"): "PRUNED", tag("steps_done"): self.step})
                self.tracked.finish("KILLED")
                raise optuna.TrialPruned(f"pruned at step {self.step} (val_loss={val:.4g})")
        patience = self.config.early_stopping_patience
        return patience is not None and self.book["bad_rounds"] >= patience

    def next_batch(self) -> Batch:
        """Item ``step`` of the training stream (prepared ahead by ``num_workers`` processes)."""
        if self._batches is None or self._batches_at != self.step:
            # workers for the store-backed stream (it opens the store once per process); any
            # other source of items (in-memory test data) is read in this process
            workers = self.config.num_workers if isinstance(self.train_items, TrainWindows) else 0
            self._batches = training_batches(
                self.train_items, self.step, self.config.steps, workers
            )
            self._batches_at = self.step
        self._batches_at += 1
        return next(self._batches)

    def train_step(self) -> float:
        config = self.config
        batch = self.next_batch().to(self.device)
        seed_everything(step_seed(config.seed, self.step))
        if "effective_batch_nodes" not in self.book:
            self.book["effective_batch_nodes"] = batch.num_nodes * self.context.world_size
        self.optimizer.zero_grad(set_to_none=True)
        loss, parts = self.objective(batch)
        value = mean_over_ranks(float(loss.detach()), self.context)
        initial = self.book["initial_loss"]
        if not math.isfinite(value):
            raise TrainingDivergedError(f"step {self.step}: loss is {value} ({parts})")
        if initial is not None and value > config.divergence_factor * max(initial, 1e-12):
            raise TrainingDivergedError(
                f"step {self.step}: loss {value:.4g} exceeds divergence_factor="
                f"{config.divergence_factor:g} × the first loss {initial:.4g}"
            )
        if initial is None:
            self.book["initial_loss"] = value
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        grad_norm = math.nan
        if config.optim.grad_clip is not None:
            params = [p for p in self.model.parameters() if p.requires_grad]
            grad_norm = float(
                torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip, foreach=True)
            )
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        if self.step % config.log_every == 0 or self.step == config.steps:
            logged = {"train_loss": value, "lr": self.scheduler.get_last_lr()[0], **parts}
            if math.isfinite(grad_norm):
                logged["grad_norm"] = grad_norm
            self.pending.append((self.step, logged))
            self.book["train"].append([self.step, value])
        return value

    def run(self) -> None:
        from tqdm.auto import tqdm

        config = self.config
        if not self.learnable:
            self.validate()
            return
        bar = tqdm(
            total=config.steps, initial=self.step,
            disable=not (self.progress and self.context.is_main), dynamic_ncols=True,
            desc=f"{config.model_name} {config.task}", file=sys.stderr,
        )  # fmt: skip
        if self.step and "saved_at" in self.book:  # continued from a cut-off process's state
            self.book.setdefault("stopped", []).append([self.book["saved_at"], epoch_ms()])
        segment_start = time.perf_counter()
        try:
            while self.step < config.steps and not self.book["stopped_early"]:
                loss = self.train_step()
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4g}", val=f"{self.book['last_val_loss']:.4g}")
                last = self.step == config.steps
                if self.step % config.val_every == 0 or last:
                    self.book["stopped_early"] = self.validate()
                if self.step % config.checkpoint_every == 0 or last or self.book["stopped_early"]:
                    self.book["wall_time"] += time.perf_counter() - segment_start
                    segment_start = time.perf_counter()
                    self.save_state()
        finally:
            bar.close()
            self.flush()
            # stop the DataLoader workers now, in this process: an iterator left alive
            # would be inherited by the next run's forked workers, whose garbage
            # collector then fails on it ("can only test a child process")
            self._batches = None
        if self.context.is_main and not (self.out_dir / MODEL_FILE).exists():
            self.save_model()

    def test_and_plot(self, title: str) -> dict[str, float]:
        best, _ = load_checkpoint(self.out_dir / MODEL_FILE, map_location=self.device)
        self.model.load_state_dict(best.state_dict())
        spec = self.data.spec
        test_batches = self.data.eval_batches("test")
        scores = evaluate_model(self.harness, test_batches, spec, self.device)
        self.tracked.log_metrics({f"test_{k}": v for k, v in scores.items()}, step=self.step)
        if self.config.plots:
            first = test_batches[0].to(self.device) if test_batches else None
            for path in run_plots(self.harness, first, self.book, self.out_dir, title):
                self.tracked.log_artifact(path, "plots")
        return scores

    def resource_tags(self, started: float) -> dict[str, Any]:
        wall = self.book["wall_time"] if self.learnable else time.perf_counter() - started
        return {
            tag("wall_time_s"): f"{wall:.2f}",
            tag("cpu_peak_memory_mb"): f"{cpu_peak_memory_mb():.1f}",
            tag("gpu_peak_memory_mb"): f"{gpu_peak_memory_mb(self.device):.1f}",
            tag("steps_done"): self.step,
            tag("stopped_early"): self.book["stopped_early"],
            tag("world_size"): self.context.world_size,
            tag("effective_batch_nodes"): self.book.get("effective_batch_nodes", 0),
            tag("stopped_ms"): json.dumps(self.book.get("stopped", [])),
        }

    def result(self, run_id, status, started, num_parameters, message="") -> TrainResult:
        wall = self.book["wall_time"] or time.perf_counter() - started
        return TrainResult(
            run_id=run_id, checkpoint=self.out_dir / MODEL_FILE,
            best_val_loss=float(self.book["best_val_loss"]),
            final_val_loss=float(self.book["last_val_loss"]), steps_done=self.step,
            wall_time=wall, num_parameters=num_parameters, status=status, message=message,
            out_dir=self.out_dir,
        )  # fmt: skip
