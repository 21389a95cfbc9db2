"""A standard budget per card and equal tuning: the two checks that come before a board.

1. **Doubling check** (``roma-bench budget check TASK``): for each model and seed, train
   at the card's budget ``B`` and at ``2B`` with the same schedule shape (warm-up steps
   doubled too, cosine decay over the whole run) and early stopping off, then score the
   validation split's primary metric. The budget is converged for a model when the seed
   mean improves by less than 5 % from ``B`` to ``2B``
   (:func:`roma_bench.convergence.doubling_check`). The rows and verdicts are written to
   ``leaderboards/budgets/<task>.csv`` (and ``.md``, :mod:`roma_bench.budget_pages`), which
   the card's ``budget.chosen_by`` names.
2. **Equal tuning** (``roma-bench budget tune TASK``): every learned model gets the same
   small learning-rate sweep (:data:`LEARNING_RATES`, the card's budget, one seed,
   validation split); the best rate per model is written to
   ``leaderboards/<task>.tuning.csv`` with every tried value, and a board's runs read it
   (:func:`tuned_learning_rates`). Nobody gets more tuning than the others.

Both record each run as soon as it is scored (:mod:`roma_bench.budget_records`: one CSV row
per run, merged under the file's lock), skip the runs already recorded, and split their
runs with ``--shard i/n`` so that several processes share one table; a run cut off halfway
continues from its last checkpoint (every :data:`CHECKPOINT_EVERY` steps) when the check
is rerun. They train through a
``run`` callable (``TrainConfig → checkpoint path``, ``None`` for a failed run) and score
through a ``score`` callable (``(checkpoint, config) → validation primary metric``), so
tests can check the logic without training; the CLI passes :func:`tracked_runner` and
:func:`validation_score`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from roma_bench.budget_records import COLUMNS, RowKey, mark_chosen, merge_rows, read_rows, row_key
from roma_bench.cards import TaskCard, load_card
from roma_bench.config import ConfigError
from roma_bench.convergence import DOUBLING_THRESHOLD, doubling_check
from roma_bench.limits import shard_position
from roma_bench.paths import leaderboard_dir
from roma_bench.training.config import OptimConfig, TrainConfig
from roma_bench.training.evaluate import evaluate_checkpoint
from roma_bench.training.runs import TrainingJob, run_training

#: The learning rates every learned model is tried with: four log-spaced values, the same
#: for everyone. The issue asked for three; on km-tiny at 500 steps nine of the thirteen
#: learned models chose the top of (1e-3, 3e-3, 1e-2), so 3e-2 was added for all of them:
#: a grid must bracket the choice. ``leaderboards/<task>.tuning.csv`` shows where each
#: model lands, and the board's page names the models still at the top of the grid.
LEARNING_RATES: tuple[float, ...] = (1e-3, 3e-3, 1e-2, 3e-2)
#: Validation points per run (``val_every = steps // VALIDATIONS_PER_RUN``).
VALIDATIONS_PER_RUN = 20
#: Steps between two training-state checkpoints of a check's run: a run cut off halfway
#: continues from the last one when the check is rerun (:mod:`roma_bench.training.unfinished`).
CHECKPOINT_EVERY = 500

RunFn = Callable[[TrainConfig], "Path | None"]
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

    def over(self, steps: int) -> Budget:
        """The same schedule shape over ``steps``: warm-up ``round(warmup · steps / self.steps)``,
        kept below ``steps``."""
        if steps == self.steps:
            return self
        warmup = round(self.warmup_steps * steps / self.steps)
        return Budget(steps, self.lr, max(0, min(steps - 1, warmup)))


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
        checkpoint_every=min(budget.steps, CHECKPOINT_EVERY),
        evaluate_test=False,
        plots=False,
    )


def tracked_runner(tracking_uri: str | None, progress: bool = False) -> RunFn:
    """Train a configuration as a tracked run; its checkpoint, or ``None`` when it failed.

    A failed run (it diverged) is a result: its row gets a NaN metric and the others go on.
    """

    def run(config: TrainConfig) -> Path | None:
        result = run_training(
            TrainingJob(config, resumable=True), tracking_uri=tracking_uri, progress=progress
        )
        if result.status != "FINISHED":
            print(f"warning: {config.model_name} on {config.task} (lr {config.optim.lr:g}, "
                  f"{config.steps} steps, seed {config.seed}) {result.status}: "
                  f"{getattr(result, 'message', '')}", file=sys.stderr)  # fmt: skip
            return None
        return Path(result.checkpoint)

    return run


def validation_score(checkpoint: Path, config: TrainConfig) -> float:
    """The card's primary metric of ``checkpoint`` on the validation split (lower is better)."""
    primary = load_card(config.task).primary_metric(config.learning_task)
    scores = evaluate_checkpoint(
        checkpoint, task=config.task, split="val", learning_task=config.learning_task
    )
    return float(scores[primary])


def doubling_plan(
    task: str, models: Sequence[str], seeds: Sequence[int], budget: Budget,
    learning_task: str = "forecast", lrs: Mapping[str, float] | None = None,
) -> list[TrainConfig]:  # fmt: skip
    """Every (model, seed) at ``B`` and at ``2B``, model-major; model ``m`` at rate
    ``lrs[m]`` when given (its tuned rate: the check tests the budget a board trains with),
    else ``budget.lr``."""
    lrs = lrs or {}
    return [
        budget_config(task, model, budget.scaled(factor), seed, lr=lrs.get(model),
                      learning_task=learning_task)
        for model in models for factor in (1, 2) for seed in seeds
    ]  # fmt: skip


def check_learning_rates(
    task: str, models: Sequence[str], budget: Budget, folder: Path | None = None
) -> dict[str, float]:
    """``{model: rate}`` of the doubling check: the rate the tuning file chose for the
    model (what the board trains with: the sweep at the card's ``tuned_at`` steps when it
    names one, else at ``budget.steps``), else ``budget.lr``."""
    tuned = tuned_learning_rates(task, folder, tuning_steps(task, budget.steps))
    return {model: tuned.get(model, budget.lr) for model in models}


def tuning_plan(
    task: str, models: Sequence[str], budget: Budget, lrs: Sequence[float] = LEARNING_RATES,
    seed: int = 0, learning_task: str = "forecast",
) -> list[TrainConfig]:  # fmt: skip
    """Every model at every rate of ``lrs``, one seed, at ``budget``."""
    return [
        budget_config(task, model, budget, seed, lr=lr, learning_task=learning_task)
        for model in models for lr in lrs
    ]  # fmt: skip


def run_plan(
    plan: Sequence[TrainConfig],
    run: RunFn,
    score: ScoreFn,
    *,
    done: Collection[RowKey] = (),
    on_row: Callable[[dict], None] | None = None,
    shard: tuple[int, int] = (1, 1),
) -> list[dict]:
    """Train and score the plan's entries of shard ``i`` of ``n`` (entry ``k`` belongs to
    shard ``k mod n + 1``) that are not in ``done``; returns the new rows
    ``model, steps, warmup_steps, seed, lr, val_metric`` (NaN for a failed run). ``on_row`` sees each
    row as soon as it is scored, so the caller can write it before the next run starts.
    """
    position, count = shard_position(shard)
    rows = []
    for k, config in enumerate(plan):
        row = {"model": config.model_name, "steps": config.steps,
               "warmup_steps": config.optim.warmup_steps, "seed": config.seed,
               "lr": config.optim.lr}  # fmt: skip
        if k % count != position or row_key({**row, "val_metric": 0}) in done:
            continue
        checkpoint = run(config)
        row["val_metric"] = math.nan if checkpoint is None else score(checkpoint, config)
        if on_row is not None:
            on_row(row)
        rows.append(row)
    return rows


def doubling_runs(
    task: str, models: Sequence[str], seeds: Sequence[int], budget: Budget, run: RunFn,
    score: ScoreFn, learning_task: str = "forecast", **options,
) -> list[dict]:  # fmt: skip
    """:func:`run_plan` of :func:`doubling_plan` (``options``: ``done``, ``on_row``, ``shard``;
    ``lrs``: per-model rates, see :func:`doubling_plan`)."""
    plan = doubling_plan(task, models, seeds, budget, learning_task, options.pop("lrs", None))
    return run_plan(plan, run, score, **options)


def doubling_verdicts(
    rows: Sequence[dict], threshold: float = DOUBLING_THRESHOLD, shape: Budget | None = None
) -> list[dict]:
    """One verdict per model, rate and budget ``B`` (steps, warm-up ``w``) whose ``2B`` runs
    (``2·steps`` steps, warm-up ``2w``: the same schedule shape) exist too.

    The seed means at ``B`` and ``2B`` (over the seeds run at both), the improvement and
    whether ``B`` converged; a chain ``B, 2B, 4B`` gives two verdicts. A seed whose run
    failed at either budget (NaN score) has no paired difference: it is left out of the
    means and counted in ``failed``; with no seed left there is no verdict. Runs whose
    warm-up does not double with the steps are never paired. ``shape``: only the runs with
    that budget's schedule shape (warm-up ``shape.over(steps).warmup_steps``), e.g. the
    card's, whose verdicts say whether a board's budget converged.
    """
    groups: dict[tuple[str, float], dict[tuple[int, int], dict[int, float]]] = {}
    for r in rows:
        if shape is not None and int(r["warmup_steps"]) != shape.over(int(r["steps"])).warmup_steps:
            continue
        by_budget = groups.setdefault((r["model"], float(r["lr"])), {})
        budget = (int(r["steps"]), int(r["warmup_steps"]))
        by_budget.setdefault(budget, {})[int(r["seed"])] = float(r["val_metric"])
    verdicts = []
    for (model, lr), by_budget in groups.items():
        for b, warmup in sorted(by_budget):
            at_b, at_2b = by_budget[b, warmup], by_budget.get((2 * b, 2 * warmup))
            if at_2b is None:
                continue
            both = sorted(set(at_b) & set(at_2b))
            seeds = [s for s in both if math.isfinite(at_b[s] + at_2b[s])]
            if not seeds:
                continue
            verdict = doubling_check([at_b[s] for s in seeds], [at_2b[s] for s in seeds], threshold)
            verdicts.append(
                {"model": model, "lr": lr, "steps": b, "warmup_steps": warmup, "seeds": len(seeds),
                 "failed": len(both) - len(seeds),
                 "mean_b": verdict.mean_b, "mean_2b": verdict.mean_2b,
                 "improvement": verdict.improvement, "converged": verdict.converged,
                 "improvement_se": verdict.improvement_se, "resolved": verdict.resolved}
            )  # fmt: skip
    return verdicts


def budget_check_paths(task: str, folder: Path | None = None) -> tuple[Path, Path]:
    """``leaderboards/budgets/<task>.csv`` (every run) and ``.md`` (the verdicts)."""
    base = (folder or leaderboard_dir()) / "budgets"
    return base / f"{task}.csv", base / f"{task}.md"


def record_check_rows(task: str, rows: Sequence[dict], folder: Path | None = None) -> list[dict]:
    """Add finished check runs to ``leaderboards/budgets/<task>.csv``; the whole table."""
    return merge_rows(budget_check_paths(task, folder)[0], rows)


def check_rows(task: str, folder: Path | None = None) -> list[dict]:
    """Every recorded check run of ``task`` (``[]`` before the first)."""
    return read_rows(budget_check_paths(task, folder)[0])


def card_verdicts(task: str, folder: Path | None = None) -> list[dict]:
    """The doubling verdicts of ``task``'s recorded check runs that have its card budget's
    schedule shape (:func:`doubling_verdicts` with ``shape``); every verdict when no card
    of that name, or none with a budget, is found."""
    try:
        card = load_card(task)
    except (ConfigError, FileNotFoundError, KeyError):
        card = None
    shape = Budget.of_card(card) if card is not None and card.budget is not None else None
    return doubling_verdicts(check_rows(task, folder), shape=shape)


def first_converged(
    verdicts: Sequence[dict], key: Callable[[dict], str] = lambda v: v["model"]
) -> dict[str, int]:
    """The smallest budget (``steps``) at which each model converged, by ``key(verdict)``
    (default the model's name); a model with no converged verdict is absent."""
    first: dict[str, int] = {}
    for v in verdicts:
        if v["converged"]:
            first[key(v)] = min(v["steps"], first.get(key(v), v["steps"]))
    return first


def tune_learning_rates(
    task: str, models: Sequence[str], budget: Budget, run: RunFn, score: ScoreFn,
    lrs: Sequence[float] = LEARNING_RATES, seed: int = 0, learning_task: str = "forecast",
    **options,
) -> list[dict]:  # fmt: skip
    """:func:`run_plan` of :func:`tuning_plan`, rows marked ``chosen`` per model
    (:func:`~roma_bench.budget_records.mark_chosen`: the lowest finite validation metric,
    the lower rate on a tie). ``options``: ``done``, ``on_row``, ``shard``."""
    plan = tuning_plan(task, models, budget, lrs, seed, learning_task)
    return mark_chosen(run_plan(plan, run, score, **options))


def tuning_path(task: str, folder: Path | None = None) -> Path:
    """``leaderboards/<task>.tuning.csv``: the learning-rate sweep a board's runs use."""
    return (folder or leaderboard_dir()) / f"{task}.tuning.csv"


def write_tuning(task: str, rows: Sequence[dict], folder: Path | None = None) -> Path:
    """Merge tuning rows into the task's tuning file (``chosen`` recomputed); its path."""
    path = tuning_path(task, folder)
    merge_rows(path, rows, finish=mark_chosen)
    return path


def tuning_rows(task: str, folder: Path | None = None) -> list[dict]:
    """Every recorded tuning run of ``task`` (``[]`` before the first)."""
    return read_rows(tuning_path(task, folder), (*COLUMNS, "chosen"))


def tuning_steps(task: str, steps: int) -> int:
    """The budget of the learning-rate sweep a run of ``steps`` on ``task`` takes its rate
    from: the card's ``budget.tuned_at`` when it names one, else ``steps`` itself."""
    card = load_card(task)
    tuned_at = card.budget.tuned_at if card.budget is not None else None
    return tuned_at or steps


def tuned_learning_rates(
    task: str, folder: Path | None = None, steps: int | None = None
) -> dict[str, float]:
    """``{model: chosen lr}`` from the task's tuning file (empty when there is none);
    with ``steps``, only rates tuned at that budget."""
    return {
        r["model"]: r["lr"]
        for r in tuning_rows(task, folder)
        if r["chosen"] and (steps is None or r["steps"] == steps)
    }
