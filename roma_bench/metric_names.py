"""Names of the scores the evaluator reports: one list, read by cards, boards and the evaluator.

The formulas live in :mod:`roma_bench.training.metrics`, whose metric tables are keyed by
exactly these names (a test checks it); this module only names them, so that the task
card schema and the leaderboards can refer to metrics without importing the harness.
"""

from __future__ import annotations

#: Scored on the predicted field.
FINE_METRIC_NAMES: tuple[str, ...] = ("smspe", "nrmse")
#: Scored on changes from the last observed frame (offset-free).
CHANGE_METRIC_NAMES: tuple[str, ...] = ("delta_nrmse",)
#: Kuramoto only.
KURAMOTO_METRIC_NAMES: tuple[str, ...] = ("phase_error", "order_parameter_error")
#: Scored on the coarse observables.
COARSE_METRIC_NAMES: tuple[str, ...] = ("coarse_smspe", "coarse_error")

#: Lead times (frames) of the rollout nRMSE.
ROLLOUT_HORIZONS: tuple[int, ...] = (1, 4, 16)

#: The paper's metric: reported on every board, never a card's primary metric.
PAPER_METRICS: frozenset[str] = frozenset({"smspe", "coarse_smspe"})


def rollout_metric_name(horizon: int) -> str:
    """Name of the rollout score at lead time ``horizon``: ``rollout_nrmse_h<h>``."""
    return f"rollout_nrmse_h{horizon}"


#: Reported only by models with a latent PDE.
PDE_RESIDUAL = "pde_residual"


def metric_names(system: str) -> tuple[str, ...]:
    """Every scalar score the evaluator reports for ``system`` (``'kuramoto'`` or ``'social'``).

    ``pde_residual`` is left out: only models with a latent PDE report it.
    """
    names = [*FINE_METRIC_NAMES, *CHANGE_METRIC_NAMES]
    if system == "kuramoto":
        names += list(KURAMOTO_METRIC_NAMES)
    names += [*COARSE_METRIC_NAMES, *(rollout_metric_name(h) for h in ROLLOUT_HORIZONS)]
    return tuple(names)


#: A board's metric columns, in order (every system's scores and the PDE residual).
BOARD_METRICS: tuple[str, ...] = (
    "delta_nrmse", "nrmse", "smspe", *(rollout_metric_name(h) for h in ROLLOUT_HORIZONS),
    *KURAMOTO_METRIC_NAMES, "coarse_error", "coarse_smspe", PDE_RESIDUAL,
)  # fmt: skip
