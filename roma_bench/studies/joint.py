"""The transfer study's joint protocol (the ROMA paper's effective-dynamics question).

Per PDE-capable model and seed, two runs that differ **only** in the latent-PDE weights
(same task, learning task, data, seed, optimizer and steps): ``forecast-only``
(``w_pde = w_gpde = 0``) and ``joint`` (``w_pde = 1``, ``w_gpde`` the model's default
``1/σ_t²``). Scores on the clean test split (see :mod:`roma_bench.studies.transfer`):
``forecast_error`` (the card's primary forecast metric), ``pde_residual`` and
``coarse_error``. ``change = joint / forecast-only − 1`` per column (< 0: joint is better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roma_bench.aggregate import finite_values, mean_std
from roma_bench.files import replace_section
from roma_bench.registry import get_model_class
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
    read_csv,
    save_figure,
    study_files,
    test_error,
    write_markdown,
)
from roma_bench.studies.resume import StudyRun, StudyTraining, train_missing
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainFn

PDE_MODELS: tuple[str, ...] = ("roma", "don-pi", "don-mp-pi", "nomad-mp-pi")
ARMS: dict[str, dict[str, float]] = {
    "forecast-only": {"w_pde": 0.0, "w_gpde": 0.0},
    "joint": {"w_pde": 1.0},  # w_gpde: the model's default 1/σ_t²
}
COLUMNS = ("forecast_error", "pde_residual", "coarse_error")
#: The columns that identify a run (a rerun keeps the finished rows that match on them).
KEYS: tuple[str, ...] = ("model", "seed", "arm", *CONFIG_COLUMNS)


@dataclass(frozen=True)
class JointPlan:
    """The two arms of one (model, seed): configs equal but for ``model``'s PDE weights."""

    model: str
    seed: int
    arms: dict[str, TrainConfig]


def plan_joint(
    base: TrainConfig,
    models: Sequence[str],
    seeds: Sequence[int],
    lrs: Mapping[str, float] | None = None,
) -> list[JointPlan]:
    """Every run of the joint protocol (``lrs``: each model's learning rate, else
    ``base``'s); raises ValueError for a model without a latent PDE."""
    plans = []
    for model in models:
        fields = _model_fields(model)
        if not {"w_pde", "w_gpde"} <= fields:
            raise ValueError(
                f"transfer study (joint): model {model!r} has no latent PDE (w_pde, w_gpde); "
                f"PDE-capable models: {', '.join(PDE_MODELS)}"
            )
        for seed in seeds:
            arms = {
                arm: model_config(
                    base,
                    model,
                    lrs,
                    seed=seed,
                    init_checkpoint=None,
                    model={**base.model, **weights},
                )
                for arm, weights in ARMS.items()
            }
            plans.append(JointPlan(model, seed, arms))
    return plans


def _model_fields(name: str) -> set[str]:
    return set(getattr(get_model_class(name).Config, "model_fields", {}))


def run_joint_study(
    base: TrainConfig,
    models: Sequence[str],
    seeds: Sequence[int],
    *,
    lrs: Mapping[str, float] | None = None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    train_fn: TrainFn | None = None,
    command: str | None = None,
    train: bool = True,
    shard: tuple[int, int] = (1, 1),
) -> tuple[list[dict[str, Any]], StudyFiles]:
    """Run both arms per model and seed; rows (one per run) and the files written.

    ``lrs``: each model's learning rate (``base``'s for a model not in it). Resumes: the
    runs with a finished row in the CSV are kept, not trained again
    (:func:`~roma_bench.studies.resume.train_missing`).
    ``shard=(i, n)``: train only shard ``i`` of ``n`` of the runs, the outputs left to the
    shard that finishes the study (:func:`~roma_bench.studies.resume.train_missing`).
    """
    command = command or current_command()
    plans = plan_joint(base, models, seeds, lrs)
    files = study_files("transfer", base.task, out_dir)
    params = {
        "protocol": "joint",
        "task": base.task,
        "models": ",".join(models),
        "seeds": ",".join(map(str, seeds)),
        "steps": base.steps,
        "learning_task": base.learning_task,
        "lrs": learning_rates_text(base, models, lrs),
    }
    with parent_run("transfer", base.task, tracking_uri, params) as parent:
        runs = [_arm_run(plan, arm, config) for plan in plans for arm, config in plan.arms.items()]
        training = StudyTraining("transfer", train_fn, tracking_uri, parent, train, shard)
        rows = train_missing(runs, KEYS, files, command, training)
        if rows.waiting:  # another shard writes the outputs
            return rows, files
        summary = summarize_joint(rows)
        _plot(summary, files.png, base.task)
        write_markdown(
            files, f"Transfer study on {base.task}", command, joint_body(summary, params)
        )
        log_outputs(parent, files)
    return rows, files


def _arm_run(plan: JointPlan, arm: str, config: TrainConfig) -> StudyRun:
    identity = {
        "model": plan.model,
        "seed": plan.seed,
        "arm": arm,
        "w_pde": config.model.get("w_pde"),
        "w_gpde": config.model.get("w_gpde", "default"),
        **config_columns(config),
    }
    return StudyRun(identity, config, f"{plan.model}-s{plan.seed}/{arm}", _score_arm)


def _score_arm(result: Any, config: TrainConfig) -> dict[str, Any]:
    forecast_metric = primary_metric(config.task, "forecast")
    return {
        "steps_done": result.steps_done,
        "num_parameters": result.num_parameters,
        "forecast_metric": forecast_metric,
        "forecast_error": test_error(result, config, forecast_metric),
        "pde_residual": test_error(result, config, "pde_residual"),
        "coarse_error": test_error(result, config, "coarse_error"),
        "run": result.run_id,
    }


def summarize_joint(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, arm): mean ± std of each column over finished seeds, and the joint change."""
    summary = []
    models = list(dict.fromkeys(r["model"] for r in rows))
    for model in models:
        means: dict[str, dict[str, float]] = {}
        for arm in ARMS:
            done = [r for r in rows if r["model"] == model and r["arm"] == arm and _ok(r)]
            entry: dict[str, Any] = {"model": model, "arm": arm, "seeds": len(done)}
            for column in COLUMNS:
                mean, std = mean_std(finite_values([float(r[column]) for r in done]))
                entry[column], entry[f"{column}_std"] = mean, std
            means[arm] = entry
            summary.append(entry)
        for column in COLUMNS:
            base, joint = means["forecast-only"][column], means["joint"][column]
            means["joint"][f"{column}_change"] = joint / base - 1 if base else float("nan")
    return summary


def _ok(row: dict[str, Any]) -> bool:
    return row.get("status") == "ok"


def _plot(summary: Sequence[dict[str, Any]], path: Path, task: str) -> None:
    import numpy as np

    fig, axes = new_figure(len(COLUMNS))
    models = list(dict.fromkeys(r["model"] for r in summary))
    x = np.arange(len(models))
    for ax, column in zip(axes, COLUMNS):
        for k, arm in enumerate(ARMS):
            rows = [next(r for r in summary if r["model"] == m and r["arm"] == arm) for m in models]
            ax.bar(
                x + (k - 0.5) * 0.4, [r[column] for r in rows], 0.4,
                yerr=[r[f"{column}_std"] for r in rows], capsize=3, label=arm,
            )  # fmt: skip
        ax.set_xticks(x, models, rotation=30, ha="right")
        ax.set_yscale("log")
        ax.set_title(column)
    axes[0].legend()
    fig.suptitle(f"transfer on {task}: forecast-only vs joint (mean ± std over seeds)")
    save_figure(fig, path)


def joint_body(summary: Sequence[dict[str, Any]], params: dict[str, Any]) -> str:
    """The summary's markdown: the protocol in one paragraph, then the table."""
    table = [
        {
            "model": r["model"],
            "arm": r["arm"],
            "seeds": r["seeds"],
            **{
                column: f"{r[column]:.4g} ± {r[f'{column}_std']:.2g}"
                + (f" ({r[f'{column}_change']:+.1%})" if f"{column}_change" in r else "")
                for column in COLUMNS
            },
        }
        for r in summary
    ]
    return (
        f"Protocol joint: per model and seed, forecast-only (w_pde = w_gpde = 0) against joint "
        f"(w_pde = 1, w_gpde = 1/σ_t²) training, {params['steps']} steps each, same data, "
        f"seed and optimizer; seeds {params['seeds']}; learning task "
        f"{params['learning_task']}{_lrs_sentence(params)}. Clean test split; mean ± std over "
        "seeds; in parentheses joint / forecast-only − 1 (< 0: joint training lowered it).\n\n"
        + markdown_table(table)
    )


def _lrs_sentence(params: dict[str, Any]) -> str:
    """``; learning rate per model: ...`` (empty for a CSV written before rows had ``lr``)."""
    lrs = params.get("lrs")
    return f"; learning rate per model: {lrs.replace(',', ', ')}" if lrs else ""


def transfer_section(csv_path: Path) -> str:
    """The README's transfer section (the text between its markers) from the study CSV."""
    frame = read_csv(csv_path)
    rows = frame.to_dict("records")
    summary = summarize_joint(rows)
    command = csv_path.read_text().splitlines()[0].removeprefix("# command: ")
    steps = sorted({int(r["steps"]) for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    body = joint_body(
        summary,
        {
            "steps": ",".join(map(str, steps)),
            "seeds": ",".join(map(str, seeds)),
            "learning_task": ",".join(sorted({str(r["learning_task"]) for r in rows})),
            "lrs": ",".join(
                f"{model}={'/'.join(f'{lr:g}' for lr in sorted(lrs))}"
                for model, lrs in _learning_rates(rows).items()
            ),
        },
    )
    return (
        f"Generated from [{csv_path.name}]({csv_path.name}) by `roma-bench study transfer "
        f"--readme`; do not edit by hand. Command: `{command}`\n\n{body}\n"
    )


def _learning_rates(rows: Sequence[dict[str, Any]]) -> dict[str, set[float]]:
    """The learning rates each model's rows were trained at (none before rows had ``lr``)."""
    lrs: dict[str, set[float]] = {}
    for row in rows:
        if row.get("lr") is not None and row["lr"] == row["lr"]:  # NaN: a row without one
            lrs.setdefault(str(row["model"]), set()).add(float(row["lr"]))
    return lrs


def write_readme_section(csv_path: Path, readme: Path) -> Path:
    """Regenerate the README's transfer section (between its markers) from the study CSV."""

    text = replace_section(readme.read_text(), "transfer", transfer_section(csv_path), str(readme))
    readme.write_text(text)
    return readme
