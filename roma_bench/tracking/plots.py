"""Run plots saved as PNG artifacts: loss curves, prediction vs truth, R(t) truth vs prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from roma_bench.files import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def loss_curves(
    train: Sequence[tuple[int, float]], val: Sequence[tuple[int, float]], path: Path, title: str
) -> Path:
    """Training loss (per logged step) and validation loss (per round) against the step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    if train:
        steps, values = zip(*train)
        ax.plot(steps, values, lw=1, label="train loss")
    if val:
        steps, values = zip(*val)
        ax.plot(steps, values, "o-", lw=1.5, label="validation loss")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def prediction_vs_truth(
    history: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    frame_dt: float,
    path: Path,
    title: str,
    node_ids: Sequence[int] | None = None,
) -> Path:
    """Per sample node: the lookback ``[k, κ]``, the true ``[k, R]`` and predicted ``[k, R]`` frames."""
    plt = _pyplot()
    k = history.shape[0]
    fig, axes = plt.subplots(k, 1, figsize=(7, 1.8 * k + 0.6), sharex=True, squeeze=False)
    lookback, rollout = history.shape[1], truth.shape[1]
    t_hist = (np.arange(lookback) - lookback + 1) * frame_dt
    t_fut = np.arange(1, rollout + 1) * frame_dt
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t_hist, history[i], color="0.5", lw=1, label="history")
        ax.plot(t_fut, truth[i], color="k", lw=1.5, label="truth")
        ax.plot(t_fut, prediction[i], "--", color="C3", lw=1.5, label="prediction")
        ax.axvline(0, color="0.8", lw=0.8)
        ax.set_ylabel(f"node {node_ids[i]}" if node_ids is not None else f"node {i}")
    axes[0, 0].legend(loc="best", fontsize=7)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("time since the last observed frame")
    return _save(fig, path)


def order_parameter_curve(
    truth: np.ndarray, prediction: np.ndarray, frame_dt: float, path: Path, title: str
) -> Path:
    """Kuramoto order parameter ``R(t)`` of the held-out nodes: truth vs the rollout."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    t = np.arange(1, len(truth) + 1) * frame_dt
    ax.plot(t, truth, color="k", lw=1.5, label="truth R(t)")
    ax.plot(t, prediction, "--", color="C3", lw=1.5, label="prediction R(t)")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time since the last observed frame")
    ax.set_ylabel("R(t)")
    ax.set_title(title)
    ax.legend()
    return _save(fig, path)


def doubling_curves(
    series: dict[str, dict[int, Sequence[float]]], path: Path, title: str, metric: str
) -> Path:
    """A metric against the training budget, one line per series (e.g. a model at its rate).

    ``series[label][steps]`` holds one score per seed (NaN for a failed run, left out):
    each seed's score is a point, the seed mean ± its standard error (sample std / √n) a line
    with error bars. Both axes are logarithmic (budgets double).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, (label, by_steps) in enumerate(sorted(series.items())):
        color = f"C{i % 10}"
        steps, means, errors = [], [], []
        for s in sorted(by_steps):
            values = np.array([v for v in by_steps[s] if np.isfinite(v)], dtype=float)
            if not len(values):
                continue
            ax.plot([s] * len(values), values, ".", color=color, alpha=0.45, ms=6)
            steps.append(s)
            means.append(values.mean())
            errors.append(values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0.0)
        if steps:
            ax.errorbar(steps, means, yerr=errors, fmt="o-", color=color, lw=1.5, capsize=3,
                        label=f"{label} (seed mean ± SE)")  # fmt: skip
    ax.set_xscale("log", base=2)
    budgets = sorted({s for by_steps in series.values() for s in by_steps})
    ax.set_xticks(budgets, [str(s) for s in budgets])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.set_xlabel("training budget (optimizer steps)")
    ax.set_ylabel(f"validation {metric}")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, path)
