"""The one way a learned model reads its inputs: normalized history and offset-free state.

The harness (:mod:`roma_bench.training.normalization`) hands every learned model the same
view of a batch; models read it through :func:`node_inputs` and never rescale it
themselves. Floors (``learnable = False``) read raw batches and do not use this.
"""

from __future__ import annotations

import torch
from torch import Tensor

from roma_bench.data.batch import Batch, difference_orders
from roma_bench.models.base import TaskSpec


def feature_width(spec: TaskSpec) -> int:
    """``p + S``: the per-node features of :func:`node_inputs` after the history."""
    return difference_orders(spec.lookback) + spec.state_size


def input_width(spec: TaskSpec) -> int:
    """``κ + p + S``: the width of :func:`node_inputs` for ``spec``."""
    return spec.lookback + feature_width(spec)


def node_inputs(batch: Batch) -> Tensor:
    """``[n, κ + p + S]``: the normalized history ``x̃`` ``[n, κ]``, its scaled backward
    differences ``[n, p]``, then the state ``[n, S]``.

    ``x̃ = (x − x_t0)/s`` (its last column is 0), ``∇^j x_t0 / σ_j`` for ``j = 1 … p``
    (``p = min(4, κ−1)``; the same information as ``x̃`` in a well-conditioned basis:
    velocity, acceleration, … each of unit scale, so gradient training reaches the
    least-squares autoregression quickly) and ``state`` (Kuramoto ``cos θ_t0, sin θ_t0``;
    social ``u_t0/ℓ``) are set by the harness; a raw batch (``state`` None) is refused.
    """
    if batch.state is None or batch.differences is None:
        raise ValueError(
            "Batch.state or Batch.differences is None: learned models read the harness's normalized batch "
            "(roma_bench.training.normalization.Normalization.normalize)"
        )
    dtype = batch.history.dtype
    return torch.cat([batch.history, batch.differences.to(dtype), batch.state.to(dtype)], dim=1)


def history_of(inputs: Tensor, spec: TaskSpec) -> Tensor:
    """The normalized history ``[n, κ]`` part of :func:`node_inputs` ``[n, κ + S]``."""
    return inputs[:, : spec.lookback]
