"""The doubling check's runs at ``B`` taken from a board instead of trained again.

A board trains every learned model at the card's budget, so for roma and gcn the board's
three seeds are the check's ``B`` runs already (:func:`board_rows`); ``roma-bench budget
check`` scores them on the validation split and trains only the ``2B`` runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from roma_bench.budget_records import RowKey, row_key
from roma_bench.budgets import Budget, ScoreFn, budget_config
from roma_bench.paths import runs_dir
from roma_bench.results import read_results, results_dir
from roma_bench.training import checkpointing
from roma_bench.training.checkpointing import MODEL_FILE
from roma_bench.training.config import TrainConfig


def board_rows(
    task: str, models: Sequence[str], budget: Budget, lrs: Mapping[str, float],
    score: ScoreFn, *, done: Collection[RowKey] = (), folder: Path | None = None,
    runs_root: Path | None = None, learning_task: str = "forecast",
) -> list[dict]:  # fmt: skip
    """Check rows at ``B`` from the task board's finished runs, scored on validation.

    A board run is a check run at ``B`` when its checkpoint's training config says so:
    ``budget.steps`` steps, ``budget.warmup_steps`` warm-up, rate ``lrs[model]``, early
    stopping off, validation every ``B / VALIDATIONS_PER_RUN`` steps (the best checkpoint
    is picked among the same points as a check run's), the check's size and learning task.
    Its weights (the best validation loss, as for a check run) are scored by ``score``
    instead of training them again.
    Runs whose checkpoint is gone (under ``runs_root/train/<run id>/``, default
    :func:`~roma_bench.paths.runs_dir`) or whose key is in ``done`` are skipped.
    """
    root = runs_root or runs_dir()
    rows = []
    for record in read_results(results_dir(task, folder)):
        if record.status != "FINISHED" or record.model not in lrs or record.model not in models:
            continue
        checkpoint = root / "train" / record.run_id / MODEL_FILE
        if not checkpoint.is_file():
            continue
        config = TrainConfig.model_validate(
            checkpointing.read_checkpoint_extra(checkpoint)["train_config"]
        )
        want = budget_config(task, record.model, budget, record.seed, lrs[record.model],
                             learning_task)  # fmt: skip
        same = (config.steps, config.optim.warmup_steps, config.optim.lr, config.size,
                config.learning_task, config.early_stopping_patience, config.val_every) == (
            want.steps, want.optim.warmup_steps, want.optim.lr, want.size,
            want.learning_task, None, want.val_every)  # fmt: skip
        row = {"model": record.model, "steps": config.steps,
               "warmup_steps": config.optim.warmup_steps, "seed": config.seed,
               "lr": config.optim.lr}  # fmt: skip
        if not same or config.task != task or row_key({**row, "val_metric": 0}) in done:
            continue
        row["val_metric"] = score(checkpoint, config)
        done = {*done, row_key(row)}
        rows.append(row)
    return rows
