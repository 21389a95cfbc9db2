"""Transfer study: does learning the effective dynamics help the forecast, and vice versa?

``protocol="joint"`` (default; the ROMA paper's question): for each PDE-capable model and
seed, two runs with the same task, data, seed, optimizer and number of steps that differ only
in the latent-PDE weights:

- *forecast-only*: ``w_pde = w_gpde = 0`` (the reference's plain runs);
- *joint*: data loss + ``w_pde``·residual + ``w_gpde``·penalty with ``w_pde = 1`` and the
  model's default ``w_gpde`` (``1/σ_t²``; the reference's ED runs).

Both are scored on the clean test split: the forecast error (the card's primary forecast
metric: effective → forecast transfer), the latent-PDE residual ``pde_residual`` and the
coarse-observable error ``coarse_error`` (forecast → effective). The summary gives, per model
and arm, mean ± std over seeds, and ``joint / forecast-only − 1`` per column.

``protocol="finetune"`` (the former study): for each direction ``source → target``
(forecast → effective and effective → forecast) pretrain on ``source`` for
``pretrain_steps``, fine-tune on ``target`` for ``finetune_steps``, versus *scratch* on
``target`` for ``pretrain_steps + finetune_steps`` (the same total budget); positive transfer
``= error(scratch) / error(transferred) − 1`` (> 0: pretraining helped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from roma_bench.aggregate import finite_values, mean_std
from roma_bench.studies.common import (
    StudyFiles,
    current_command,
    learning_rates_text,
    log_outputs,
    markdown_table,
    model_config,
    new_figure,
    parent_run,
    primary_metric,
    save_figure,
    study_files,
    test_error,
    train_in_study,
    write_csv,
    write_markdown,
)
from roma_bench.studies.joint import run_joint_study
from roma_bench.studies.resume import StudyRun, StudyTraining, train_missing
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainFn, require_finished

Protocol = Literal["joint", "finetune"]
DIRECTIONS: tuple[tuple[str, str], ...] = (("forecast", "effective"), ("effective", "forecast"))


@dataclass(frozen=True)
class TransferPlan:
    """The three runs of one (model, seed, direction); ``scratch`` gets pretrain + fine-tune steps."""

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
    lrs: Mapping[str, float] | None = None,
) -> list[TransferPlan]:
    """Every run of the finetune protocol; scratch differs from fine-tune only in its start and
    its steps (``pretrain_steps + finetune_steps``: the pretrain → fine-tune total).
    ``lrs``: each model's learning rate (``base``'s for a model not in it)."""
    plans = []
    for model in models:
        for seed in seeds:
            for source, target in directions:
                start = model_config(base, model, lrs, seed=seed, init_checkpoint=None)
                pretrain = start.model_copy(
                    update={"learning_task": source, "steps": pretrain_steps}
                )
                finetune = start.model_copy(
                    update={"learning_task": target, "steps": finetune_steps}
                )
                scratch = finetune.model_copy(update={"steps": pretrain_steps + finetune_steps})
                plans.append(TransferPlan(model, seed, source, target, pretrain, finetune, scratch))
    return plans


def run_transfer_study(
    base: TrainConfig,
    models: Sequence[str],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    protocol: Protocol = "joint",
    pretrain_steps: int | None = None,
    finetune_steps: int | None = None,
    directions: Sequence[tuple[str, str]] = DIRECTIONS,
    lrs: Mapping[str, float] | None = None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    train_fn: TrainFn | None = None,
    command: str | None = None,
    train: bool = True,
    shard: tuple[int, int] = (1, 1),
) -> tuple[list[dict[str, Any]], StudyFiles]:
    """Run the study; returns its rows and the files written.

    ``joint`` (:mod:`roma_bench.studies.joint`): ``base.steps`` per arm, files
    ``transfer-<task>.*``; ``finetune``: one row per model, seed and direction, files
    ``transfer-finetune-<task>.*``, needs ``pretrain_steps`` and ``finetune_steps``.
    ``lrs``: each model's learning rate (``base``'s for a model not in it). Both protocols
    resume: a rerun trains only the rows without a finished one in the CSV (a finetune row
    is its pretrain → fine-tune → scratch chain, retrained whole when it did not finish).
    ``train=False`` trains nothing and writes the outputs from the finished rows.
    ``shard=(i, n)``: train only shard ``i`` of ``n`` of the runs, the outputs left to the
    shard that finishes the study (:func:`~roma_bench.studies.resume.train_missing`).
    """
    if protocol == "joint":
        return run_joint_study(
            base, models, seeds, lrs=lrs, tracking_uri=tracking_uri, out_dir=out_dir,
            train_fn=train_fn, command=command, train=train, shard=shard,
        )  # fmt: skip
    if protocol != "finetune":
        raise ValueError(f"transfer study: unknown protocol {protocol!r} (joint or finetune)")
    if pretrain_steps is None or finetune_steps is None:
        raise ValueError("transfer study (finetune): give pretrain_steps and finetune_steps")
    command = command or current_command()
    plans = plan_transfer(base, models, seeds, pretrain_steps, finetune_steps, directions, lrs)
    files = study_files("transfer-finetune", base.task, out_dir)
    params = {
        "protocol": "finetune",
        "task": base.task,
        "models": ",".join(models),
        "seeds": ",".join(map(str, seeds)),
        "pretrain_steps": pretrain_steps,
        "finetune_steps": finetune_steps,
        "lrs": learning_rates_text(base, models, lrs),
    }
    with parent_run("transfer", base.task, tracking_uri, params) as parent:
        training = StudyTraining("transfer", train_fn, tracking_uri, parent, train, shard)
        rows = train_missing([_chain_run(plan) for plan in plans], FINETUNE_KEYS, files,
                             command, training)  # fmt: skip
        if rows.waiting:  # another shard writes the outputs
            return rows, files
        write_csv(rows, files.csv, command)
        summary = summarize_transfer(rows)
        _plot(summary, files.png, base.task)
        write_markdown(files, f"Transfer study on {base.task}", command, _body(summary, params))
        log_outputs(parent, files)
    return rows, files


#: The columns that identify a finetune row: a rerun keeps the finished rows that match.
FINETUNE_KEYS = ("model", "seed", "source", "target", "lr", "pretrain_steps", "finetune_steps")


def _chain_run(plan: TransferPlan) -> StudyRun:
    """One (model, seed, direction) row: pretrain → fine-tune, and scratch, as one unit."""
    tag = f"{plan.model}-s{plan.seed}-{plan.source}2{plan.target}"
    identity = {"model": plan.model, "seed": plan.seed, "source": plan.source,
                "target": plan.target, "lr": plan.finetune.optim.lr,
                "pretrain_steps": plan.pretrain.steps, "finetune_steps": plan.finetune.steps,
                "metric": primary_metric(plan.scratch.task, plan.target)}  # fmt: skip
    return StudyRun(identity, plan.scratch, tag,
                    execute=lambda training: _run_chain(plan, tag, training))  # fmt: skip


def _run_chain(plan: TransferPlan, tag: str, training: StudyTraining) -> dict[str, Any]:
    """Train the plan's three runs; the row's result columns (raises when one fails)."""

    def train(config: TrainConfig, name: str) -> Any:
        return train_in_study(
            config, training.train_fn, tracking_uri=training.tracking_uri,
            parent=training.parent, study="transfer", run_name=f"{tag}/{name}",
        )  # fmt: skip

    pre = train(plan.pretrain, "pretrain")
    require_finished(pre, "pretraining")
    finetune = plan.finetune.model_copy(update={"init_checkpoint": str(pre.checkpoint)})
    tuned = train(finetune, "finetune")
    scratch = train(plan.scratch, "scratch")
    for name, result in (("finetune", tuned), ("scratch", scratch)):
        require_finished(result, f"{name} run")
    error_transferred = test_error(tuned, finetune)
    error_scratch = test_error(scratch, plan.scratch)
    return {
        "scratch_steps": scratch.steps_done,
        "num_parameters": tuned.num_parameters,
        "error_transferred": error_transferred,
        "error_scratch": error_scratch,
        "positive_transfer": error_scratch / error_transferred - 1.0,
        "pretrain_run": pre.run_id,
        "finetune_run": tuned.run_id,
        "scratch_run": scratch.run_id,
    }


def summarize_transfer(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, direction): positive transfer mean ± std over the seeds that finished."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["model"], row["source"], row["target"]), []).append(row)
    summary = []
    for (model, source, target), group in groups.items():
        done = [r for r in group if r.get("status") == "ok"]
        transfer = mean_std(finite_values([r["positive_transfer"] for r in done]))
        scratch = mean_std(finite_values([r["error_scratch"] for r in done]))
        transferred = mean_std(finite_values([r["error_transferred"] for r in done]))
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
        f"Pretraining {params['pretrain_steps']} steps then fine-tuning "
        f"{params['finetune_steps']} steps, versus scratch for the same total (same optimizer, "
        f"same seed); seeds {params['seeds']}; learning rate per model: "
        f"{params['lrs'].replace(',', ', ')}. Positive transfer = error(scratch)/error(transferred) − 1 on the "
        "target task's clean test split (> 0: pretraining helped).\n\n" + markdown_table(summary)
    )
