"""A standard budget per card and equal tuning: the two checks that come before a board.

1. **Doubling check** (``roma-bench budget check TASK``): for each model and seed, train
   at the card's budget ``B`` and at ``2B`` with the same schedule shape (warm-up steps
   doubled too, cosine decay over the whole run) and early stopping off, then score the
   validation split's primary metric. The budget is converged for a model when the seed
   mean improves by less than 5 % from ``B`` to ``2B``
   (:func:`roma_bench.convergence.doubling_check`). The rows and verdicts are written to
   ``leaderboards/budgets/<task>.csv`` (and ``.md``), which the card's ``budget.chosen_by``
   names.
2. **Equal tuning** (``roma-bench budget tune TASK``): every learned model gets the same
   small learning-rate sweep (:data:`LEARNING_RATES`, the card's budget, one seed,
   validation split); the best rate per model is written to
   ``leaderboards/<task>.tuning.csv`` with every tried value, and a board's runs read it
   (:func:`tuned_learning_rates`). Nobody gets more tuning than the others.

Both run their trainings through a ``run`` callable (``TrainConfig → checkpoint path``)
and score through a ``score`` callable (``(checkpoint, config) → validation primary
metric``), so tests can check the logic without training; the CLI passes
:func:`tracked_runner` and :func:`validation_score`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from roma_bench.cards import TaskCard, load_card
from roma_bench.config import ConfigError
from roma_bench.convergence import DOUBLING_THRESHOLD, doubling_check
from roma_bench.files import atomic_write_text
from roma_bench.paths import leaderboard_dir
from roma_bench.training.config import OptimConfig, TrainConfig
from roma_bench.training.evaluate import evaluate_checkpoint
from roma_bench.training.runs import TrainingJob, require_finished, run_training

#: The learning rates every learned model is tried with (log-spaced around AdamW's usual 1e-3).
LEARNING_RATES: tuple[float, ...] = (3e-4, 1e-3, 3e-3)
#: Validation points per run (``val_every = steps // VALIDATIONS_PER_RUN``).
VALIDATIONS_PER_RUN = 20

RunFn = Callable[[TrainConfig], Path]
ScoreFn = Callable[[Path, TrainConfig], float]


@dataclass(frozen=True)
class Budget:
    """``steps`` optimizer steps, peak ``lr``, ``warmup_steps`` of linear warm-up."""

    steps: int
    lr: float
    warmup_steps: int

    @classmethod
    def of_card(cls, card: TaskCard) -> Budget:
        """The card's ``budget`` section; a :class:`ConfigError` naming the card without one."""
        if card.budget is None:
            raise ConfigError(
                f"task {card.name!r} has no budget section (tasks/{card.name}.yaml: "
                "budget: {steps: …, lr: …, warmup_steps: …}); pass --steps to choose one"
            )
        return cls(card.budget.steps, card.budget.lr, card.budget.warmup_steps)

    def scaled(self, factor: int) -> Budget:
        """The same schedule shape over ``factor`` times the steps (warm-up scaled too)."""
        return Budget(self.steps * factor, self.lr, self.warmup_steps * factor)


def budget_config(
    task: str,
    model: str,
    budget: Budget,
    seed: int,
    lr: float | None = None,
    learning_task: str = "forecast",
) -> TrainConfig:
    """A run at ``budget`` with early stopping off, no test scoring and no plots."""
    return TrainConfig(
        model_name=model,
        task=task,
        seed=seed,
        steps=budget.steps,
        learning_task=learning_task,
        optim=OptimConfig(lr=budget.lr if lr is None else lr, warmup_steps=budget.warmup_steps),
        early_stopping_patience=None,
        val_every=max(1, budget.steps // VALIDATIONS_PER_RUN),
        checkpoint_every=budget.steps,
        evaluate_test=False,
        plots=False,
    )


def tracked_runner(tracking_uri: str | None, progress: bool = False) -> RunFn:
    """Train a configuration as a tracked run; return its checkpoint (refuse a failed run)."""

    def run(config: TrainConfig) -> Path:
        result = run_training(TrainingJob(config), tracking_uri=tracking_uri, progress=progress)
        require_finished(result, f"{config.model_name} on {config.task}:")
        return Path(result.checkpoint)

    return run


def validation_score(checkpoint: Path, config: TrainConfig) -> float:
    """The card's primary metric of ``checkpoint`` on the validation split (lower is better)."""
    primary = load_card(config.task).primary_metric(config.learning_task)
    scores = evaluate_checkpoint(
        checkpoint, task=config.task, split="val", learning_task=config.learning_task
    )
    return float(scores[primary])


def doubling_runs(
    task: str,
    models: Sequence[str],
    seeds: Sequence[int],
    budget: Budget,
    run: RunFn,
    score: ScoreFn,
    learning_task: str = "forecast",
) -> list[dict]:
    """Every (model, seed) at ``B`` and ``2B``: rows ``model, steps, seed, lr, val_metric``."""
    rows = []
    for model in models:
        for factor in (1, 2):
            scaled = budget.scaled(factor)
            for seed in seeds:
                config = budget_config(task, model, scaled, seed, learning_task=learning_task)
                value = score(run(config), config)
                rows.append(
                    {"model": model, "steps": scaled.steps, "seed": seed, "lr": budget.lr,
                     "val_metric": value}
                )  # fmt: skip
    return rows


def doubling_verdicts(rows: Sequence[dict], threshold: float = DOUBLING_THRESHOLD) -> list[dict]:
    """Per model: seed means at ``B`` and ``2B``, the improvement and whether it converged."""
    verdicts = []
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        b = min(r["steps"] for r in mine)
        at_b = [r["val_metric"] for r in mine if r["steps"] == b]
        at_2b = [r["val_metric"] for r in mine if r["steps"] == 2 * b]
        verdict = doubling_check(at_b, at_2b, threshold)
        verdicts.append(
            {"model": model, "steps": b, "mean_b": verdict.mean_b, "mean_2b": verdict.mean_2b,
             "improvement": verdict.improvement, "converged": verdict.converged}
        )  # fmt: skip
    return verdicts


def _csv_text(rows: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def budget_check_paths(task: str, folder: Path | None = None) -> tuple[Path, Path]:
    """``leaderboards/budgets/<task>.csv`` (every run) and ``.md`` (the verdicts)."""
    base = (folder or leaderboard_dir()) / "budgets"
    return base / f"{task}.csv", base / f"{task}.md"


def write_budget_check(
    task: str, rows: Sequence[dict], verdicts: Sequence[dict], command: str,
    folder: Path | None = None,
) -> tuple[Path, Path]:  # fmt: skip
    """Write the runs (CSV) and a Markdown table of the verdicts; returns both paths."""
    csv_path, md_path = budget_check_paths(task, folder)
    atomic_write_text(csv_path, _csv_text(rows))
    lines = [
        f"# Budget check on {task}",
        "",
        f"Command: `{command}`. Validation split, the card's primary metric (lower is better), "
        f"seed means; converged when doubling the budget improves it by less than "
        f"{DOUBLING_THRESHOLD:.0%} (early stopping off, same schedule shape).",
        "",
        "| model | B (steps) | mean at B | mean at 2B | improvement | converged at B |",
        "|---|---|---|---|---|---|",
    ]
    for v in verdicts:
        lines.append(
            f"| {v['model']} | {v['steps']} | {v['mean_b']:.4g} | {v['mean_2b']:.4g} | "
            f"{v['improvement']:+.1%} | {'yes' if v['converged'] else 'no'} |"
        )
    atomic_write_text(md_path, "\n".join(lines) + "\n")
    return csv_path, md_path


def tune_learning_rates(
    task: str,
    models: Sequence[str],
    budget: Budget,
    run: RunFn,
    score: ScoreFn,
    lrs: Sequence[float] = LEARNING_RATES,
    seed: int = 0,
    learning_task: str = "forecast",
) -> list[dict]:
    """Every model at every rate (one seed); rows ``model, lr, steps, seed, val_metric, chosen``.

    A model's chosen rate has the lowest finite validation metric (the first such on a tie).
    """
    rows = []
    for model in models:
        mine = []
        for lr in lrs:
            config = budget_config(task, model, budget, seed, lr=lr, learning_task=learning_task)
            mine.append(
                {"model": model, "lr": lr, "steps": budget.steps, "seed": seed,
                 "val_metric": score(run(config), config), "chosen": False}
            )  # fmt: skip
        finite = [r for r in mine if math.isfinite(r["val_metric"])]
        if finite:
            min(finite, key=lambda r: r["val_metric"])["chosen"] = True
        rows += mine
    return rows


def tuning_path(task: str, folder: Path | None = None) -> Path:
    """``leaderboards/<task>.tuning.csv``: the learning-rate sweep a board's runs use."""
    return (folder or leaderboard_dir()) / f"{task}.tuning.csv"


def write_tuning(task: str, rows: Sequence[dict], folder: Path | None = None) -> Path:
    return atomic_write_text(tuning_path(task, folder), _csv_text(rows))


def tuned_learning_rates(task: str, folder: Path | None = None) -> dict[str, float]:
    """``{model: chosen lr}`` from the task's tuning file (empty when there is none)."""
    path = tuning_path(task, folder)
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"model", "lr", "chosen"} - set(rows[0] if rows else {})
    if missing:
        raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return {r["model"]: float(r["lr"]) for r in rows if r["chosen"].strip().lower() == "true"}
