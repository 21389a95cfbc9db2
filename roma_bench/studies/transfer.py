"""Transfer study: pretrain on one learning task, fine-tune on the other, versus scratch.

For each model, seed and direction ``source → target`` (forecast → effective and
effective → forecast):

1. *pretrain*: train on ``source`` for ``pretrain_steps``;
2. *transferred*: start from the pretrained weights, train on ``target`` for
   ``finetune_steps``;
3. *scratch*: train on ``target`` from a fresh initialization for the same
   ``finetune_steps`` with the same optimizer settings and seed.

Both target runs are scored on the clean test split of ``target`` (its primary metric)
and ``positive transfer = error(scratch) / error(transferred) − 1`` (> 0: pretraining
helped). The summary reports its mean ± std over seeds per model and direction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roma_bench.studies.common import (
    StudyFiles,
    TrainFn,
    current_command,
    log_outputs,
    markdown_table,
    mean_std,
    new_figure,
    parent_run,
    primary_metric,
    run_training,
    save_figure,
    study_files,
    test_error,
    write_csv,
    write_markdown,
)
from roma_bench.training.config import TrainConfig

DIRECTIONS: tuple[tuple[str, str], ...] = (("forecast", "effective"), ("effective", "forecast"))


@dataclass(frozen=True)
class TransferPlan:
    """The three runs of one (model, seed, direction); ``scratch`` and ``finetune`` share a budget."""

    model: str
    seed: int
    source: str
    target: str
    pretrain: TrainConfig
    finetune: TrainConfig  # init_checkpoint is filled in after pretraining
    scratch: TrainConfig


def plan_transfer(
    base: TrainConfig,
    models: Sequence[str],
    seeds: Sequence[int],
    pretrain_steps: int,
    finetune_steps: int,
    directions: Sequence[tuple[str, str]] = DIRECTIONS,
) -> list[TransferPlan]:
    """Every run of the study; the fine-tune and scratch configs differ only in their start."""
    plans = []
    for model in models:
        for seed in seeds:
            for source, target in directions:
                common = {"model_name": model, "seed": seed, "init_checkpoint": None}
                pretrain = base.model_copy(
                    update={**common, "learning_task": source, "steps": pretrain_steps}
                )
                target_config = base.model_copy(
                    update={**common, "learning_task": target, "steps": finetune_steps}
                )
                plans.append(
                    TransferPlan(
                        model, seed, source, target, pretrain, target_config, target_config
                    )
                )
    return plans


def run_transfer_study(
    base: TrainConfig,
    models: Sequence[str],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    pretrain_steps: int,
    finetune_steps: int,
    directions: Sequence[tuple[str, str]] = DIRECTIONS,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    train_fn: TrainFn | None = None,
    command: str | None = None,
) -> tuple[list[dict[str, Any]], StudyFiles]:
    """Run the study; returns its rows (one per model, seed, direction) and the files written."""
    if train_fn is None:
        from roma_bench.training.fit import train as train_fn
    command = command or current_command()
    plans = plan_transfer(base, models, seeds, pretrain_steps, finetune_steps, directions)
    files = study_files("transfer", base.task, out_dir)
    rows: list[dict[str, Any]] = []
    params = {
        "task": base.task,
        "models": ",".join(models),
        "seeds": ",".join(map(str, seeds)),
        "pretrain_steps": pretrain_steps,
        "finetune_steps": finetune_steps,
    }
    with parent_run("transfer", base.task, tracking_uri, params) as parent:
        parent_id = parent.info.run_id
        for plan in _progress(plans):
            rows.append(_run_plan(plan, train_fn, tracking_uri, parent_id))
            write_csv(rows, files.csv, command)  # partial results survive an interruption
        summary = summarize_transfer(rows)
        _plot(summary, files.png, base.task)
        write_markdown(files, f"Transfer study on {base.task}", command, _body(summary, params))
        log_outputs(files)
    return rows, files


def _run_plan(
    plan: TransferPlan, train_fn: TrainFn, tracking_uri: str | None, parent_id: str
) -> dict[str, Any]:
    tag = f"{plan.model}-s{plan.seed}-{plan.source}2{plan.target}"
    row: dict[str, Any] = {
        "model": plan.model,
        "seed": plan.seed,
        "source": plan.source,
        "target": plan.target,
        "metric": primary_metric(plan.scratch.task, plan.target),
    }
    try:
        pre = run_training(
            plan.pretrain, train_fn, tracking_uri=tracking_uri, parent_run_id=parent_id,
            study="transfer", run_name=f"{tag}/pretrain",
        )  # fmt: skip
        if pre.status != "FINISHED":
            raise RuntimeError(f"pretraining {pre.status}: {getattr(pre, 'message', '')}")
        finetune = plan.finetune.model_copy(update={"init_checkpoint": str(pre.checkpoint)})
        tuned = run_training(
            finetune, train_fn, tracking_uri=tracking_uri, parent_run_id=parent_id,
            study="transfer", run_name=f"{tag}/finetune",
        )  # fmt: skip
        scratch = run_training(
            plan.scratch, train_fn, tracking_uri=tracking_uri, parent_run_id=parent_id,
            study="transfer", run_name=f"{tag}/scratch",
        )  # fmt: skip
        for name, result in (("finetune", tuned), ("scratch", scratch)):
            if result.status != "FINISHED":
                raise RuntimeError(f"{name} run {result.status}: {getattr(result, 'message', '')}")
        error_transferred = test_error(tuned, finetune)
        error_scratch = test_error(scratch, plan.scratch)
        row.update(
            pretrain_steps=pre.steps_done,
            finetune_steps=tuned.steps_done,
            scratch_steps=scratch.steps_done,
            num_parameters=tuned.num_parameters,
            error_transferred=error_transferred,
            error_scratch=error_scratch,
            positive_transfer=error_scratch / error_transferred - 1.0,
            pretrain_run=pre.run_id,
            finetune_run=tuned.run_id,
            scratch_run=scratch.run_id,
            status="ok",
        )
    except Exception as err:  # one failing model must not lose the others' results
        row.update(status=f"failed: {type(err).__name__}: {err}"[:300])
    return row


def summarize_transfer(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, direction): positive transfer mean ± std over the seeds that finished."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["source"], row["target"]), []).append(row)
    summary = []
    for (model, source, target), group in groups.items():
        done = [r for r in group if r.get("status") == "ok"]
        transfer = mean_std([r["positive_transfer"] for r in done])
        scratch = mean_std([r["error_scratch"] for r in done])
        transferred = mean_std([r["error_transferred"] for r in done])
        summary.append(
            {
                "model": model,
                "direction": f"{source} → {target}",
                "metric": group[0]["metric"],
                "seeds": len(done),
                "error_scratch": scratch[0],
                "error_scratch_std": scratch[1],
                "error_transferred": transferred[0],
                "error_transferred_std": transferred[1],
                "positive_transfer": transfer[0],
                "positive_transfer_std": transfer[1],
            }
        )
    return summary


def _plot(summary: Sequence[dict[str, Any]], path: Path, task: str) -> None:
    import numpy as np

    fig, (ax,) = new_figure()
    directions = sorted({row["direction"] for row in summary})
    models = sorted({row["model"] for row in summary})
    width = 0.8 / max(1, len(directions))
    for k, direction in enumerate(directions):
        means, stds = [], []
        for model in models:
            match = [r for r in summary if r["model"] == model and r["direction"] == direction]
            means.append(match[0]["positive_transfer"] if match else np.nan)
            stds.append(match[0]["positive_transfer_std"] if match else np.nan)
        x = np.arange(len(models)) + (k - (len(directions) - 1) / 2) * width
        ax.bar(x, means, width, yerr=stds, capsize=3, label=direction)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(np.arange(len(models)), models, rotation=30, ha="right")
    ax.set_ylabel("positive transfer = err(scratch)/err(transferred) − 1")
    ax.set_title(f"transfer on {task} (mean ± std over seeds)")
    ax.legend()
    save_figure(fig, path)


def _body(summary: Sequence[dict[str, Any]], params: dict[str, Any]) -> str:
    return (
        f"Pretraining {params['pretrain_steps']} steps; fine-tuning and scratch "
        f"{params['finetune_steps']} steps each (same optimizer, same seed); seeds "
        f"{params['seeds']}. Positive transfer = error(scratch)/error(transferred) − 1 on the "
        "target task's clean test split (> 0: pretraining helped).\n\n" + markdown_table(summary)
    )


def _progress(items: Sequence[Any]) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc="transfer study", dynamic_ncols=True)
