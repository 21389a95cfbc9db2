"""The ``ar`` floor: a pooled least-squares linear autoregression on increments (closed form).

From a node's last ``p = κ − 1`` one-frame increments ``δ_k = x_k − x_{k−1}`` of its history
(``k = t0−p+1 … t0``), the change from the last observed frame at each lead ``h = 1 … H`` is
predicted directly (one coefficient vector per lead, no feedback within the horizon)::

    ŷ_{i,t0+h} = x_{i,t0} + Σ_{j=1..p} a_{h,j} δ_{i,t0−p+j} + b_h

The coefficients ``A = [a_{h,j}]`` (``[p, H]``) and the intercepts ``b`` (``[H]``) are shared by
every node ("pooled") and are the ordinary least-squares solution over all training samples
``(i, t0)``: ``i`` a training node (the store's ``split/train``) and ``t0`` a training window
start (history and targets inside the train frame range, as the training loader draws them).
The intercept is kept because a system may drift on average (social activity); for Kuramoto
(centred ω) it is ≈ 0. Validation and test nodes and frames are never read by the fit.

The fit reads the clean stored field and solves the normal problem stably: the rows
``[δ, 1, y − x_t0]`` are folded chunk by chunk into the triangular factor ``R`` of a QR
decomposition (TSQR), then ``[A; b] = lstsq(R₁₁, R₁₂)``. Huge cards are subsampled
deterministically (evenly spaced training nodes, then evenly spaced window starts) to at
most ``max_samples`` samples. Because it only sees increments, ``ar`` is invariant to a
constant offset per node (θ and θ + 2π give the same change).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from roma_bench.config import StrictModel
from roma_bench.data.batch import Batch
from roma_bench.data.loader import window_starts
from roma_bench.data.store import TaskStore
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.registry import register_model

#: Samples (rows) folded into the QR factor at a time: bounds the fit's memory.
CHUNK_ROWS = 200_000


class AutoregressionConfig(StrictModel):
    """Knobs of the ``ar`` fit (none change the estimator on cards below the cap)."""

    max_samples: int = Field(
        4_000_000, gt=0, description="cap on the (node, window start) training samples fitted"
    )


def increments(history: np.ndarray) -> np.ndarray:
    """``[..., κ] → [..., κ−1]`` one-frame increments ``δ_k = x_k − x_{k−1}`` of a history."""
    return np.diff(history, axis=-1)


def design_rows(windows: np.ndarray, lookback: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors and targets of windows ``[s, κ+H]`` (frames ``t0−κ+1 … t0+H``), float64.

    Returns ``features`` ``[s, κ]`` = ``[δ_{t0−κ+2} … δ_{t0}, 1]`` and ``changes`` ``[s, H]``
    = ``x_{t0+h} − x_{t0}``.
    """
    windows = np.asarray(windows, dtype=np.float64)
    history, future = windows[:, :lookback], windows[:, lookback:]
    features = np.concatenate([increments(history), np.ones((len(windows), 1))], axis=1)
    return features, future - history[:, -1:]


def evenly_spaced(values: np.ndarray, count: int) -> np.ndarray:
    """``count`` evenly spaced entries of ``values`` (all of them if ``count ≥ len``)."""
    if count >= len(values):
        return values
    return values[np.linspace(0, len(values) - 1, max(count, 1)).round().astype(np.int64)]


def training_samples(store: Any, max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The training nodes and window starts the fit uses: ``(node_ids, t0s)``.

    All training nodes × all training starts when their product is ≤ ``max_samples``;
    otherwise evenly spaced nodes (at most ``max_samples // starts``, at least one), then, if
    still too many, evenly spaced starts.
    """

    nodes = np.asarray(store.split.train, dtype=np.int64)
    starts = window_starts(store.card, "train")
    nodes = evenly_spaced(nodes, max(1, max_samples // len(starts)))
    starts = evenly_spaced(starts, max(1, max_samples // len(nodes)))
    return nodes, starts


def fit_autoregression(
    store: Any, lookback: int, horizon: int, max_samples: int = 4_000_000
) -> tuple[np.ndarray, int]:
    """Least-squares ``[A; b]`` ``[κ, H]`` float64 of ``store``'s training split; and #samples.

    See the module docstring for the model, the samples and the solver.
    """
    nodes, starts = training_samples(store, max_samples)
    first, last = int(starts[0]) - lookback + 1, int(starts[-1]) + horizon + 1
    width = lookback + horizon  # frames of a window; also the columns [δ (κ−1), 1, change (H)]
    offsets = starts - lookback + 1 - first  # window w: frames first + offsets[w] + 0 … κ+H−1
    columns = offsets[:, None] + np.arange(width)[None, :]
    factor = np.zeros((0, width))
    per_chunk = max(1, CHUNK_ROWS // len(starts))
    for lo in range(0, len(nodes), per_chunk):
        field = store.read_field(nodes[lo : lo + per_chunk], first, last)  # [c, frames]
        windows = field[:, columns].reshape(-1, width)  # [c·s, κ+H]
        features, changes = design_rows(windows, lookback)
        stacked = np.concatenate([factor, np.concatenate([features, changes], axis=1)])
        factor = np.linalg.qr(stacked, mode="r")
    q = lookback  # κ−1 increments + the intercept
    coefficients = np.linalg.lstsq(factor[:q, :q], factor[:q, q:], rcond=None)[0]
    return coefficients, len(nodes) * len(starts)


@register_model("ar")
class Autoregression(ForecastModel):
    """``ŷ_{i,t0+h} = x_{i,t0} + Σ_j a_{h,j} δ_{i,j} + b_h`` (pooled least squares on training
    increments, see :mod:`baselines.autoregression`). ``[n, κ] → [n, H]``.

    Needs ``spec.data_path`` (the task's HDF5 store); fitted on the first call (a closed
    form, no training steps). The coefficients are buffers (not parameters), so a checkpoint
    saved after the fit holds them and its reload scores without refitting.
    """

    Config = AutoregressionConfig
    SIZES: dict[str, dict[str, Any]] = {"tiny": {}, "base": {}}
    learnable = False

    def __init__(self, config: AutoregressionConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        # [κ, H] float64: rows a_{·,1..p}, then b; valid once ``fitted`` is set.
        self.register_buffer("coefficients", torch.zeros(spec.lookback, spec.horizon).double())
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))
        self.num_samples = 0

    def fit(self) -> np.ndarray:
        """Fit (once) on the task store's training split; returns ``[A; b]`` ``[κ, H]``."""
        if bool(self.fitted):
            return self.coefficients.cpu().numpy()
        if not self.spec.data_path:
            raise ValueError(
                f"model 'ar' needs the task's data file: TaskSpec.data_path is empty for task "
                f"{self.spec.name!r} (generate the task first)"
            )

        with TaskStore(self.spec.data_path) as store:
            coefficients, self.num_samples = fit_autoregression(
                store, self.spec.lookback, self.spec.horizon, self.config.max_samples
            )
        self.coefficients.copy_(torch.from_numpy(coefficients))
        self.fitted.fill_(True)
        return coefficients

    def forward(self, batch: Batch) -> ModelOutput:
        self.fit()
        history = batch.history.double()
        features = torch.cat([history.diff(dim=1), history.new_ones(len(history), 1)], dim=1)
        weights = self.coefficients.to(device=history.device, dtype=torch.float64)
        prediction = history[:, -1:] + features @ weights
        return ModelOutput(prediction=prediction.to(batch.history.dtype))
