"""Every score roma-bench reports, defined once (formula in each docstring).

All metrics share one signature, ``metric(prediction, target) -> Tensor`` (a 0-d
tensor), and check their inputs' shapes before computing anything, like The
Well's ``metrics/common.py``. Shapes: ``n`` nodes, ``T`` frames, ``m`` coarse
parts, ``C`` coarse channels.

Fine-scale metrics take ``[n, T]`` (any equal shapes work for the pointwise
ones); the Kuramoto metrics read the fields as unwrapped phases θ; the coarse
metric takes ``[m, T, C]`` coarse observables. The *change* metrics
(:data:`CHANGE_METRICS`, e.g. :func:`delta_nrmse`) take changes from the last
observed frame ``x_t0`` (see :func:`changes_from`), so a constant offset per
node (θ and θ + 2πk are the same phase) leaves them unchanged.

The rollout metric and the latent-PDE residual are computed by
:mod:`roma_bench.training.evaluate` from these formulas. ``rollout_nrmse_h<h>`` is
:func:`nrmse` at lead time ``h`` of an autoregressive rollout, on changes from the
rollout origin ``x_t0`` where :data:`ROLLOUT_ON_CHANGES` says so (Kuramoto:
``nRMSE(θ̂(t0+h) − θ(t0), θ(t0+h) − θ(t0))``, offset-free) and on the field itself
otherwise (social activity: ``nRMSE(û(t0+h), u(t0+h))``). ``pde_residual`` is the
mean of the model's reported ``mean(residual²)``.

Ranking: each task card names its primary metric per learning task
(``metrics.primary.forecast`` / ``.effective``, see :mod:`roma_bench.cards`), an
offset-free one. sMSPE (:func:`smspe`, the ROMA paper's score) is always reported
beside it but never ranks: it divides by ``|y|``, so it changes when a phase is
shifted by 2π.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from roma_bench.dynamics.observables import order_parameter

SMSPE_EPS = 1e-4
NRMSE_EPS = 1e-7

Metric = Callable[[Tensor, Tensor], Tensor]


def check_pair(name: str, prediction: Tensor, target: Tensor, ndim: int | None = None) -> None:
    """Raise ``ValueError`` unless ``prediction`` and ``target`` are equal-shaped float tensors."""
    if not isinstance(prediction, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"{name}: expected torch tensors, got {type(prediction).__name__} "
            f"and {type(target).__name__}"
        )
    if prediction.shape != target.shape:
        raise ValueError(
            f"{name}: prediction shape {tuple(prediction.shape)} != target shape "
            f"{tuple(target.shape)}"
        )
    if ndim is not None and prediction.dim() != ndim:
        raise ValueError(f"{name}: expected {ndim}-d tensors, got shape {tuple(prediction.shape)}")
    if prediction.numel() == 0:
        raise ValueError(f"{name}: empty tensors (shape {tuple(prediction.shape)})")
    if not prediction.is_floating_point():
        raise TypeError(f"{name}: expected floating-point tensors, got {prediction.dtype}")


def smspe(prediction: Tensor, target: Tensor) -> Tensor:
    """Symmetric mean squared percentage error (the ROMA paper's training loss and score).

    ``sMSPE = mean_k ( |y_k − ŷ_k| / (|y_k| + |ŷ_k| + ε) )²`` with ``ε = 1e-4``;
    in ``[0, 1)``, 0 for a perfect prediction.
    """
    check_pair("smspe", prediction, target)
    ratio = (target - prediction).abs() / (target.abs() + prediction.abs() + SMSPE_EPS)
    return (ratio**2).mean()


def mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error ``mean_k (y_k − ŷ_k)²``."""
    check_pair("mse", prediction, target)
    return ((target - prediction) ** 2).mean()


def nrmse(prediction: Tensor, target: Tensor) -> Tensor:
    """Normalized root mean squared error (The Well's NRMSE).

    ``nRMSE = sqrt( mean_k (y_k − ŷ_k)² / (mean_k y_k² + ε) )`` with ``ε = 1e-7``;
    1 for predicting zeros.
    """
    check_pair("nrmse", prediction, target)
    return torch.sqrt(((target - prediction) ** 2).mean() / ((target**2).mean() + NRMSE_EPS))


def changes_from(field: Tensor, origin: Tensor) -> Tensor:
    """Change of ``field`` ``[n, T]`` from the frame ``origin`` ``[n, 1]`` (or ``[n]``): ``x − x_t0``."""
    if origin.dim() == field.dim() - 1:
        origin = origin.unsqueeze(-1)
    if origin.shape[:-1] != field.shape[:-1] or origin.shape[-1] != 1:
        raise ValueError(
            f"changes_from: origin shape {tuple(origin.shape)} does not fit field shape "
            f"{tuple(field.shape)} (expected {tuple(field.shape[:-1])} + (1,))"
        )
    return field - origin


def delta_nrmse(predicted_change: Tensor, true_change: Tensor) -> Tensor:
    """nRMSE of the predicted change from the last observed frame ``x_t0`` (offset-free).

    Takes changes, ``ŷ − x_t0`` and ``y − x_t0`` (:func:`changes_from`), and is
    :func:`nrmse` of them: ``sqrt( mean_k (ŷ_k − y_k)² / (mean_k (y_k − x_t0)² + ε) )``.
    1 for persistence (a predicted change of 0); blind to a constant offset per node.
    """
    check_pair("delta_nrmse", predicted_change, true_change)
    return nrmse(predicted_change, true_change)


def wrap_angle(angle: Tensor) -> Tensor:
    """Map angles to ``(−π, π]``: ``atan2(sin a, cos a)``."""
    return torch.atan2(torch.sin(angle), torch.cos(angle))


def circular_phase_error(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute circular difference of phases (Kuramoto), in radians.

    ``mean_k |wrap(θ̂_k − θ_k)|`` with ``wrap`` onto ``(−π, π]``; in ``[0, π]``,
    blind to whole turns (θ and θ + 2π are the same phase).
    """
    check_pair("circular_phase_error", prediction, target)
    return wrap_angle(prediction - target).abs().mean()


def order_parameter_series(theta: Tensor) -> Tensor:
    """``R(t) = |(1/n) Σ_i e^{iθ_i(t)}|`` of phases ``[n, T]`` → ``[T]`` (one definition)."""

    return order_parameter(theta)


def order_parameter_error(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error of the Kuramoto order parameter of the nodes (``[n, T]`` phases).

    ``mean_t |R̂(t) − R(t)|`` with ``R(t) = |(1/n) Σ_i e^{iθ_i(t)}|``; in ``[0, 1]``.
    """
    check_pair("order_parameter_error", prediction, target, ndim=2)
    return (order_parameter_series(prediction) - order_parameter_series(target)).abs().mean()


def coarse_observable_error(prediction: Tensor, target: Tensor) -> Tensor:
    """Error of the coarse observables ``[m, T, C]`` (effective task): their nRMSE.

    ``sqrt( mean_{c,t,ch} (o − ô)² / (mean o² + ε) )`` over parts ``c``, frames ``t``
    and channels ``ch`` (Kuramoto: ``R_c cos ψ_c, R_c sin ψ_c``; social: mean activity).
    """
    check_pair("coarse_observable_error", prediction, target, ndim=3)
    return nrmse(prediction, target)


FINE_METRICS: dict[str, Metric] = {"smspe": smspe, "nrmse": nrmse}
#: Metrics scored on changes from the last observed frame (``changes_from(·, x_t0)``).
CHANGE_METRICS: dict[str, Metric] = {"delta_nrmse": delta_nrmse}
KURAMOTO_METRICS: dict[str, Metric] = {
    "phase_error": circular_phase_error,
    "order_parameter_error": order_parameter_error,
}
COARSE_METRICS: dict[str, Metric] = {
    "coarse_smspe": smspe,
    "coarse_error": coarse_observable_error,
}
LOSSES: dict[str, Metric] = {"smspe": smspe, "mse": mse}

#: Per system: is ``rollout_nrmse_h<h>`` scored on changes from the rollout origin ``x_t0``?
#: Kuramoto phases: yes (offset-free); social activity: no (plain nRMSE of the field).
ROLLOUT_ON_CHANGES: dict[str, bool] = {"kuramoto": True, "social": False}
