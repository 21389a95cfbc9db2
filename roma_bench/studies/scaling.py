"""Scaling study: test error against parameter count and against data size, with a power law.

*Parameter scaling*: per model family, every width field of the model config (the
fields :func:`roma_bench.sweeps.space.width_fields` finds, e.g. ``hidden``, ``d_model``)
is multiplied by each factor of ``width_factors`` (≥ 4 sizes), the same training budget
each; N = the trained parameter count.

*Data scaling* (axis ``data``): the same model trained on nested subsets of one store's
training nodes (``data_fractions``, e.g. ¼, ½, 1: ``TrainConfig.train_nodes``, a connected
region grown from a fixed node, :func:`roma_bench.graphs.sampler.nested_region`), scored
on the same validation and test sets; N = the training nodes used,
``⌈f·(nodes − val_nodes − test_nodes)⌉``.

*Cross-card comparison* (axis ``cards``, reported separately: the tasks differ in more than
their size, e.g. their held-out sets): the same model trained on each of ``data_tasks``
(``km-tiny`` → ``km-38k`` → ...), each at that card's own budget (``card_configs``: the
card's steps, warm-up and tuned rate, the budget its doubling check found converged, so a
card's run is its board's run); N = the task's node count.

Fit: ``L = a·N^(−α)`` by least squares on ``log L = log a − α log N``:
with ``X = [1, log N]`` and residual variance ``s² = RSS/(n − 2)``, the covariance of
``(log a, −α)`` is ``s²·(XᵀX)⁻¹``; the standard error of α is the square root of its
diagonal entry (undefined for fewer than 3 points).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from roma_bench.cards import load_card
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
    save_figure,
    study_files,
    test_error,
    write_markdown,
)
from roma_bench.studies.resume import StudyRun, StudyTraining, train_missing
from roma_bench.sweeps.space import heads_multiple, size_values, width_fields
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainFn

#: The columns that identify a run (a rerun keeps the finished rows that match on them).
KEYS: tuple[str, ...] = (
    "axis", "model", "task", "seed", "width_factor", "nodes", "train_nodes", *CONFIG_COLUMNS
)  # fmt: skip
#: The axes and what their N is.
AXES: dict[str, str] = {
    "parameters": "parameters N",
    "data": "training nodes N (nested subsets of one store)",
    "cards": "task nodes N (one card each)",
}


@dataclass(frozen=True)
class PowerLawFit:
    """``L = a·N^(−α)``: α with its standard error, log a with its, and R² in log-log space."""

    a: float
    alpha: float
    alpha_se: float
    log_a_se: float
    r2: float
    n_points: int

    def predict(self, n: np.ndarray) -> np.ndarray:
        return self.a * np.asarray(n, dtype=float) ** (-self.alpha)


def fit_power_law(n: Sequence[float], loss: Sequence[float]) -> PowerLawFit:
    """Least-squares fit of ``log L = log a − α log N`` with the parameter covariance.

    ``n``, ``loss``: ``[k]`` positive values (k ≥ 2; the standard errors need k ≥ 3).
    """
    x = np.asarray(n, dtype=float)
    y = np.asarray(loss, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"fit_power_law: n and loss must be 1-D of one length, got {x.shape}, {y.shape}"
        )
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("fit_power_law: N and L must be positive (a log-log fit)")
    if x.size < 2 or np.unique(x).size < 2:
        raise ValueError(f"fit_power_law: need at least 2 distinct N, got {x.size} points")
    design = np.column_stack([np.ones_like(x), np.log(x)])
    target = np.log(y)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    residual = target - design @ coef
    dof = x.size - 2
    if dof > 0:
        s2 = float(residual @ residual) / dof
        cov = s2 * np.linalg.inv(design.T @ design)
        log_a_se, alpha_se = math.sqrt(cov[0, 0]), math.sqrt(cov[1, 1])
    else:
        log_a_se = alpha_se = float("nan")
    total = float(((target - target.mean()) ** 2).sum())
    r2 = 1.0 - float(residual @ residual) / total if total > 0 else float("nan")
    return PowerLawFit(
        a=float(math.exp(coef[0])),
        alpha=float(-coef[1]),
        alpha_se=alpha_se,
        log_a_se=log_a_se,
        r2=r2,
        n_points=int(x.size),
    )


def width_overrides(model_name: str, size: str, factor: float) -> dict[str, int]:
    """Every width field of ``model_name`` at ``size`` times ``factor`` (kept divisible by heads)."""

    values = size_values(get_model_class(model_name), size)
    fields = width_fields(values)
    if not fields:
        raise ValueError(
            f"model {model_name!r} has no width field to scale (config fields: {', '.join(values)})"
        )
    multiple = heads_multiple(values)
    out = {}
    for name in fields:
        scaled = max(multiple, round(values[name] * factor / multiple) * multiple)
        out[name] = int(scaled)
    return out


def task_nodes(task: str) -> int:
    """Node count of ``task`` from its card."""

    return int(load_card(task).graph.nodes)


def training_nodes(task: str, fraction: float = 1.0) -> int:
    """Training nodes of ``task`` a run with ``train_nodes = fraction`` draws from:
    ``⌈f·(nodes − val_nodes − test_nodes)⌉`` (the node split leaves the rest for training)."""
    card = load_card(task)
    return max(1, math.ceil(fraction * (card.graph.nodes - card.split.val_nodes
                                        - card.split.test_nodes)))  # fmt: skip


def run_scaling_study(
    base: TrainConfig,
    models: Sequence[str],
    *,
    width_factors: Sequence[float] = (0.5, 1.0, 2.0, 4.0),
    data_fractions: Sequence[float] = (),
    data_tasks: Sequence[str] = (),
    seeds: Sequence[int] = (0,),
    lrs: Mapping[str, float] | None = None,
    card_configs: Mapping[str, Mapping[str, TrainConfig]] | None = None,
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
    train_fn: TrainFn | None = None,
    command: str | None = None,
    train: bool = True,
    shard: tuple[int, int] = (1, 1),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], StudyFiles]:
    """Run the axes asked for; returns (rows, fits, files). ``width_factors``: parameter
    axis; ``data_fractions``: data axis (nested training subsets of ``base.task``);
    ``data_tasks``: the cross-card axis (``cards``).

    ``lrs``: each model's learning rate (``base``'s for a model not in it);
    ``card_configs``: per cross-card task, each model's config there (the card's budget:
    steps, warm-up and tuned rate, so that a card's run is its board's run; ``base`` on
    that task at ``lrs`` for a task or model not in it). Resumes: the
    runs with a finished row in the CSV are kept, not trained again
    (:func:`~roma_bench.studies.resume.train_missing`).
    ``shard=(i, n)``: train only shard ``i`` of ``n`` of the runs, the outputs left to the
    shard that finishes the study (:func:`~roma_bench.studies.resume.train_missing`).
    """
    command = command or current_command()
    files = study_files("scaling", base.task, out_dir)
    runs: list[StudyRun] = []
    for model in models:
        for factor in width_factors:
            overrides = {**base.model, **width_overrides(model, base.size, factor)}
            for seed in seeds:
                config = model_config(base, model, lrs, seed=seed, model=overrides)
                runs.append(_scaling_run("parameters", model, factor, config))
        for fraction in data_fractions:
            for seed in seeds:
                config = model_config(base, model, lrs, seed=seed, train_nodes=fraction)
                nodes = training_nodes(base.task, fraction)
                runs.append(_scaling_run("data", model, float(nodes), config))
        for task in data_tasks:
            for seed in seeds:
                config = _card_config(base, model, lrs, card_configs, task, seed)
                runs.append(_scaling_run("cards", model, float(task_nodes(task)), config))
    params = {"task": base.task, "models": ",".join(models), "steps": base.steps,
              "width_factors": ",".join(map(str, width_factors)),
              "data_fractions": ",".join(map(str, data_fractions)), "data_tasks": ",".join(data_tasks),
              "lrs": learning_rates_text(base, models, lrs)}  # fmt: skip
    with parent_run("scaling", base.task, tracking_uri, params) as parent:
        training = StudyTraining("scaling", train_fn, tracking_uri, parent, train, shard)
        rows = train_missing(runs, KEYS, files, command, training)
        if rows.waiting:  # another shard writes the outputs
            return rows, [], files
        fits = fit_rows(rows)
        _plot(rows, fits, files.png, base.task)
        body = (
            f"Budget: {base.steps} steps per run, size {base.size}, seeds "
            f"{','.join(map(str, seeds))}; learning rate per model: "
            f"{params['lrs'].replace(',', ', ')}{_card_budgets_text(data_tasks, card_configs)}; "
            f"width factors {params['width_factors']}. "
            "Fit L = a·N^(−α) by log-log least squares; ± is the standard error of α.\n\n"
            + markdown_table(fits)
        )
        write_markdown(files, f"Scaling study on {base.task}", command, body)
        log_outputs(parent, files)
    return rows, fits, files


def _card_config(
    base: TrainConfig,
    model: str,
    lrs: Mapping[str, float] | None,
    card_configs: Mapping[str, Mapping[str, TrainConfig]] | None,
    task: str,
    seed: int,
) -> TrainConfig:
    """The cross-card run of ``model`` on ``task``: the card's own config when
    ``card_configs`` has one (its budget), else ``base`` moved to ``task``."""
    card = (card_configs or {}).get(task, {}).get(model)
    if card is None:
        return model_config(base, model, lrs, seed=seed, task=task)
    return card.model_copy(update={"seed": seed})


def _card_budgets_text(
    data_tasks: Sequence[str], card_configs: Mapping[str, Mapping[str, TrainConfig]] | None
) -> str:
    """``"; cross-card runs per card (km-tiny: 2000 steps, warm-up 100, roma=0.01, ...;
    ...)"`` or ``""``: each card's steps, warm-up and rates (its own budget unless the
    study gave ``--steps``; the studies' README says which)."""
    cards = [t for t in data_tasks if (card_configs or {}).get(t)]
    if not card_configs or not cards:
        return ""

    def one(task: str) -> str:
        configs = card_configs[task]
        shapes = sorted({(c.steps, c.optim.warmup_steps) for c in configs.values()})
        schedule = ", ".join(f"{steps} steps, warm-up {warmup}" for steps, warmup in shapes)
        rates = ", ".join(f"{m}={c.optim.lr:g}" for m, c in configs.items())
        return f"{task}: {schedule}, {rates}"

    return f"; cross-card runs per card ({'; '.join(one(t) for t in cards)})"


def _scaling_run(axis: str, model: str, knob: float, config: TrainConfig) -> StudyRun:
    identity = {"axis": axis, "model": model, "task": config.task, "seed": config.seed,
                "width_factor": knob if axis == "parameters" else None,
                "nodes": int(knob) if axis != "parameters" else None,
                "train_nodes": config.train_nodes, **config_columns(config)}  # fmt: skip
    return StudyRun(identity, config, f"{model}-{axis}-{knob:g}-s{config.seed}", _score_scaling)


def _score_scaling(result: Any, config: TrainConfig) -> dict[str, Any]:
    return {
        "num_parameters": int(result.num_parameters),
        "steps_done": int(result.steps_done),
        "metric": primary_metric(config.task, config.learning_task),
        "error": test_error(result, config),
        "run_id": result.run_id,
    }


def fit_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One power-law fit per (axis, model) over the finished rows (mean error per N)."""
    fits = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row.get("status") == "ok":
            groups.setdefault((row["axis"], row["model"]), []).append(row)
    for (axis, model), group in sorted(groups.items()):
        key = "num_parameters" if axis == "parameters" else "nodes"
        by_n: dict[float, list[float]] = {}
        for row in group:
            by_n.setdefault(float(row[key]), []).append(float(row["error"]))
        n = sorted(by_n)
        entry: dict[str, Any] = {"axis": axis, "model": model, "points": len(n), "N": key}
        try:
            fit = fit_power_law(n, [float(np.mean(by_n[v])) for v in n])
            entry.update(alpha=fit.alpha, alpha_se=fit.alpha_se, a=fit.a, r2=fit.r2)
        except ValueError as err:
            entry.update(alpha=float("nan"), alpha_se=float("nan"), a=float("nan"), r2=float("nan"),
                         note=str(err))  # fmt: skip
        fits.append(entry)
    return fits


def _plot(rows, fits, path: Path, task: str) -> None:
    axes_names = [a for a in AXES if any(r.get("axis") == a for r in rows)]
    fig, axes = new_figure(max(1, len(axes_names)))
    for ax, axis in zip(axes, axes_names):
        key = "num_parameters" if axis == "parameters" else "nodes"
        for fit in (f for f in fits if f["axis"] == axis):
            points = [r for r in rows if r.get("axis") == axis and r["model"] == fit["model"]
                      and r.get("status") == "ok"]  # fmt: skip
            n = np.array([r[key] for r in points], dtype=float)
            err = np.array([r["error"] for r in points], dtype=float)
            (line,) = ax.loglog(n, err, "o", label=f"{fit['model']}")
            if np.isfinite(fit["alpha"]):
                grid = np.geomspace(n.min(), n.max(), 50)
                ax.loglog(grid, fit["a"] * grid ** (-fit["alpha"]), "-", color=line.get_color(),
                          label=f"α = {fit['alpha']:.3f} ± {fit['alpha_se']:.3f}")  # fmt: skip
        ax.set_xlabel(AXES[axis])
        ax.set_ylabel("test error L")
        ax.set_title(f"{axis} scaling ({task})")
        ax.legend(fontsize=8)
    save_figure(fig, path)
