"""Scoring on held-out data: one-step metrics, autoregressive rollouts, whole checkpoints.

Only the task's held-out subgraph and time ranges are scored (``val`` or ``test``;
never ``train``). Each score is the mean over the split's batches weighted by the
batch's node count. ``rollout_nrmse_h<h>``: the model's ``[n, H]`` predictions are
fed back as history (the oldest frames dropped) until ``h`` frames are predicted;
the score is :func:`~roma_bench.training.metrics.nrmse` of frame ``t0 + h`` against
the clean ``batch.future`` — per system (:data:`~roma_bench.training.metrics.ROLLOUT_ON_CHANGES`):
Kuramoto on changes from the rollout origin, ``nRMSE(θ̂(t0+h) − θ(t0), θ(t0+h) − θ(t0))``
(offset-free), social activity on the field itself, ``nRMSE(û(t0+h), u(t0+h))``. A model
that defines ``rollout(batch, frames) -> [n, frames]`` (the ``oracle``, which integrates its
own full-graph state) is asked for the whole rollout at once instead.

Models are scored on field values from raw batches: a learned model goes behind the
harness's normalization (:class:`~roma_bench.training.normalization.HarnessModel`), so each
rollout step normalizes its current raw window and decodes the prediction, and the
coarse observables of the effective task aggregate the decoded prediction.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from roma_bench.config import ConfigError
from roma_bench.data.batch import Batch
from roma_bench.dynamics.observables import coarse_observables
from roma_bench.metric_names import ROLLOUT_HORIZONS, rollout_metric_name
from roma_bench.models.base import ForecastModel, TaskSpec, forecasts_only, load_checkpoint
from roma_bench.training import data as task_data
from roma_bench.training import metrics
from roma_bench.training.evaluators import TaskEvaluator
from roma_bench.training.normalization import harness_model


@torch.no_grad()
def rollout(model: ForecastModel, batch: Batch, frames: int, first: Tensor | None = None) -> Tensor:
    """Autoregressive prediction ``[n, frames]`` of frames ``t0+1 … t0+frames``.

    Each call predicts ``H`` frames from the latest ``κ`` (observed or predicted) ones.
    Needs ``batch.future`` ``[n, R ≥ frames]`` to build each call's (unused) targets.
    ``first``: the model's prediction ``[n, H]`` on ``batch`` itself, if already computed.
    A model with its own ``rollout(batch, frames)`` hook is asked directly (no feedback here).
    """
    own_rollout = getattr(model, "rollout", None)
    if callable(own_rollout):
        return own_rollout(batch, frames).float()
    if batch.future is None or batch.future.shape[1] < frames:
        have = None if batch.future is None else tuple(batch.future.shape)
        raise ValueError(
            f"rollout of {frames} frames needs batch.future [n, ≥{frames}], got {have}"
        )
    horizon, lookback = batch.horizon, batch.lookback
    history, t0, chunks, done = batch.history, batch.t0, [], 0
    while done < frames:
        stop = min(done + horizon, batch.future.shape[1])
        target = batch.future[:, done:stop]
        if target.shape[1] < horizon:  # pad the unused target of the last call
            target = torch.cat([target, target[:, -1:].expand(-1, horizon - target.shape[1])], 1)
        step_batch = replace(
            batch,
            history=history,
            target=target,
            t0=t0,
            coarse_target=coarse_observables(
                target, batch.coarse_assignment, batch.num_parts, batch.system
            ),
            future=None,
        )
        if done == 0 and first is not None:
            prediction = first.float()
        else:
            with forecasts_only(model):  # a rollout reads predictions, not diagnostics
                prediction = model(step_batch).prediction.float()
        chunks.append(prediction)
        history = torch.cat([history, prediction.to(history.dtype)], dim=1)[:, -lookback:]
        t0 = t0 + horizon * batch.frame_dt
        done += horizon
    return torch.cat(chunks, dim=1)[:, :frames]


@torch.no_grad()
def score_batch(
    model: ForecastModel,
    batch: Batch,
    evaluator: TaskEvaluator,
    horizons: Sequence[int] = ROLLOUT_HORIZONS,
) -> dict[str, float]:
    """Every metric of one held-out batch: one-step scores and rollout nRMSE per horizon."""
    output = model(batch)
    scores = evaluator.score(output, batch)
    if batch.future is not None:
        usable = [h for h in horizons if h <= batch.future.shape[1]]
        if usable:
            predicted = rollout(model, batch, max(usable), first=output.prediction)
            evaluator._check_tensor("rollout", predicted, (batch.num_nodes, max(usable)), batch)
            scores.update(rollout_scores(predicted, batch, usable))
    return scores


def rollout_scores(predicted: Tensor, batch: Batch, horizons: Sequence[int]) -> dict[str, float]:
    """``rollout_nrmse_h<h>`` of a rollout ``predicted`` ``[n, ≥ max(h)]`` (module docstring).

    On changes from the origin ``x_t0`` (the last history frame) where the system's field is
    defined up to an offset (:data:`~roma_bench.training.metrics.ROLLOUT_ON_CHANGES`).
    """
    predicted, future = predicted.double(), batch.future.double()
    if metrics.ROLLOUT_ON_CHANGES[batch.system]:
        origin = batch.history[:, -1:].double()
        predicted = metrics.changes_from(predicted, origin)
        future = metrics.changes_from(future, origin)
    scores = {}
    for h in horizons:
        value = metrics.nrmse(predicted[:, h - 1], future[:, h - 1])
        scores[rollout_metric_name(h)] = float(value)
    return scores


def mean_scores(per_batch: Sequence[tuple[int, dict[str, float]]]) -> dict[str, float]:
    """Node-weighted mean of per-batch scores ``[(num_nodes, {metric: value})]``."""
    totals: dict[str, float] = {}
    weights: dict[str, float] = {}
    for weight, scores in per_batch:
        for name, value in scores.items():
            totals[name] = totals.get(name, 0.0) + weight * value
            weights[name] = weights.get(name, 0.0) + weight
    return {name: totals[name] / weights[name] for name in sorted(totals)}


@torch.no_grad()
def evaluate_model(
    model: ForecastModel,
    batches: Sequence[Batch],
    spec: TaskSpec,
    device: torch.device | str = "cpu",
    horizons: Sequence[int] = ROLLOUT_HORIZONS,
) -> dict[str, float]:
    """Mean scores of ``model`` over held-out ``batches`` (see the module docstring).

    ``model`` takes raw batches and returns field values: a floor, or a learned model
    wrapped by :func:`~roma_bench.training.normalization.harness_model`.
    """
    if not batches:
        raise ValueError(f"task {spec.name}: no held-out batches to evaluate on")
    evaluator = TaskEvaluator(spec)
    was_training = model.training
    model.eval()
    try:
        per_batch = [
            (b.num_nodes, score_batch(model, b.to(device), evaluator, horizons)) for b in batches
        ]
    finally:
        model.train(was_training)
    return mean_scores(per_batch)


def evaluate_checkpoint(
    path: str | Path,
    task: str | None = None,
    split: str = "test",
    learning_task: str | None = None,
    device: str = "cpu",
) -> dict[str, float]:
    """Load the model at ``path`` and score it on ``task``'s held-out ``split``.

    ``task`` defaults to the task the checkpoint was trained on, ``learning_task`` to
    its learning task. Evaluating on another task needs the same lookback and horizon.
    """

    if split not in ("val", "test"):
        raise ConfigError(
            f"split {split!r}: expected 'val' or 'test' (training data is not scored)"
        )
    model, extra = load_checkpoint(path, map_location=device)
    task = task or model.spec.name
    learning_task = learning_task or model.spec.learning_task
    data = task_data.open_task_data(task, learning_task, seed=0, noise=None)
    spec = data.spec
    for field in ("lookback", "horizon", "system"):
        if getattr(spec, field) != getattr(model.spec, field):
            raise ConfigError(
                f"checkpoint {path} was built for {field}={getattr(model.spec, field)!r} "
                f"(task {model.spec.name}); task {task} has {field}={getattr(spec, field)!r}"
            )
    if task == model.spec.name and extra.get("data_checksum") not in (None, data.checksum):
        warnings.warn(
            f"checkpoint {path} was trained on data with checksum {extra['data_checksum']}, "
            f"the store now has {data.checksum}",
            stacklevel=2,
        )

    mode = (extra.get("train_config") or {}).get("normalization", "increments")
    harness = harness_model(model, data.normalization, mode).to(device)
    scores = evaluate_model(harness, data.eval_batches(split), spec, device)
    return scores
