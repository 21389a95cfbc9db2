"""Noise study: train at observation noise σ, evaluate on clean test data.

Each model is trained with ``TrainConfig.noise = σ`` for σ ∈ ``sigmas`` (default
:data:`DEFAULT_SIGMAS` of the task's system): the loader adds ``σ·ξ`` radians to Kuramoto
phases and multiplies social activity by ``exp(σ·ξ)``, ξ ~ N(0, 1), independently on
inputs and targets (:mod:`roma_bench.data.noise`); the held-out test split is
never noised, so the reported error is the clean test error. The plot shows error
(mean ± std over seeds) against σ per model, σ on a symmetric-log axis so that σ = 0
is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from roma_bench.aggregate import finite_values, mean_std
from roma_bench.cards import load_card
from roma_bench.studies.common import (
    CONFIG_COLUMNS,
    StudyFiles,
    config_columns,
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
    write_markdown,
)
from roma_bench.studies.resume import StudyRun, StudyTraining, train_missing
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainFn

DEFAULT_SIGMAS: dict[str, tuple[float, ...]] = {
    "kuramoto": (0.0, 1e-3, 1e-2, 1e-1),
    "social": (0.0, 1e-2, 3e-2, 1e-1),
}
"""σ per system, spanning "below the signal" to "comparable to it". Kuramoto (radians): a
phase moves by about |ω|·Δ ≈ 0.1 rad per frame (σ_ω = 1, Δ = 0.1), so σ = 1e-3 … 1e-1 runs
from 1% of one frame's change to all of it. Social (std of log u): 1%, 3% and 10% relative
error on the activity (the v1 log-variances 1e-4, 1e-3, 1e-2 are stds 0.01, 0.03, 0.1)."""

#: The columns that identify a run (a rerun keeps the finished rows that match on them).
KEYS: tuple[str, ...] = ("model", "sigma", "seed", *CONFIG_COLUMNS)


def default_sigmas(task: str) -> tuple[float, ...]:
    """:data:`DEFAULT_SIGMAS` of ``task``'s system (read from its card)."""

    return DEFAULT_SIGMAS[load_card(task).system]


def run_noise_study(
    base: TrainConfig,
    models: Sequence[str],
    *,
    sigmas: Sequence[float] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    lrs: Mapping[str, float] | None = None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    train_fn: TrainFn | None = None,
    command: str | None = None,
    train: bool = True,
    shard: tuple[int, int] = (1, 1),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], StudyFiles]:
    """Train every (model, σ, seed); returns (rows, summary per model and σ, files).

    ``sigmas`` defaults to :func:`default_sigmas` of ``base.task``; ``lrs``: each model's
    learning rate (``base``'s for a model not in it). Resumes: the runs with a finished row
    in the CSV are kept, not trained again (:func:`~roma_bench.studies.resume.train_missing`).
    ``shard=(i, n)``: train only shard ``i`` of ``n`` of the runs, the outputs left to the
    shard that finishes the study (:func:`~roma_bench.studies.resume.train_missing`).
    """
    sigmas = default_sigmas(base.task) if sigmas is None else sigmas
    if any(s < 0 for s in sigmas):
        raise ValueError(f"noise σ must be ≥ 0, got {list(sigmas)}")
    command = command or current_command()
    files = study_files("noise", base.task, out_dir)
    metric = primary_metric(base.task, base.learning_task)
    runs = [
        _noise_run(model_config(base, m, lrs, noise=float(sigma), seed=seed), metric)
        for m in models for sigma in sigmas for seed in seeds
    ]  # fmt: skip
    params = {"task": base.task, "models": ",".join(models), "steps": base.steps,
              "sigmas": ",".join(f"{s:g}" for s in sigmas), "seeds": ",".join(map(str, seeds)),
              "lrs": learning_rates_text(base, models, lrs)}  # fmt: skip
    with parent_run("noise", base.task, tracking_uri, params) as parent:
        training = StudyTraining("noise", train_fn, tracking_uri, parent, train, shard)
        rows = train_missing(runs, KEYS, files, command, training)
        if rows.waiting:  # another shard writes the outputs
            return rows, [], files
        summary = summarize_noise(rows)
        _plot(summary, files.png, base.task, metric)
        body = (
            f"Budget: {base.steps} steps per run, size {base.size}, learning rate per model "
            f"{params['lrs'].replace(',', ', ')}; trained at noise σ, scored on the clean test "
            f"split ({metric}, mean ± std over seeds).\n\n" + markdown_table(summary)
        )
        write_markdown(files, f"Noise study on {base.task}", command, body)
        log_outputs(parent, files)
    return rows, summary, files


def _noise_run(config: TrainConfig, metric: str) -> StudyRun:
    identity = {"model": config.model_name, "sigma": config.noise, "seed": config.seed,
                "metric": metric, **config_columns(config)}  # fmt: skip
    name = f"{config.model_name}-sigma{config.noise:g}-s{config.seed}"
    return StudyRun(identity, config, name, _score_noise)


def _score_noise(result: Any, config: TrainConfig) -> dict[str, Any]:
    return {"error": test_error(result, config), "steps_done": int(result.steps_done),
            "run_id": result.run_id}  # fmt: skip


def summarize_noise(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, σ): clean test error mean ± std over finished seeds, and its ratio to σ = 0."""
    groups: dict[tuple[str, float], list[float]] = {}
    for row in rows:
        if row.get("status") == "ok":
            groups.setdefault((row["model"], row["sigma"]), []).append(row["error"])
    summary = []
    for (model, sigma), errors in sorted(groups.items()):
        mean, std = mean_std(finite_values(errors))
        clean = groups.get((model, 0.0))
        ratio = mean / mean_std(finite_values(clean))[0] if clean else float("nan")
        summary.append({"model": model, "sigma": sigma, "seeds": len(errors), "error": mean,
                        "error_std": std, "error_vs_clean": ratio})  # fmt: skip
    return summary


def _plot(summary: Sequence[dict[str, Any]], path: Path, task: str, metric: str) -> None:
    fig, (ax,) = new_figure()
    for model in sorted({r["model"] for r in summary}):
        points = sorted((r for r in summary if r["model"] == model), key=lambda r: r["sigma"])
        sigma = np.array([r["sigma"] for r in points])
        ax.errorbar(sigma, [r["error"] for r in points], yerr=[r["error_std"] for r in points],
                    marker="o", capsize=3, label=model)  # fmt: skip
    positive = [r["sigma"] for r in summary if r["sigma"] > 0]
    ax.set_xscale("symlog", linthresh=min(positive) if positive else 1e-4)
    ax.set_xlabel("training noise σ (symlog)")
    ax.set_ylabel(f"clean test {metric}")
    ax.set_title(f"noise robustness on {task} (mean ± std over seeds)")
    ax.legend(fontsize=8)
    save_figure(fig, path)
