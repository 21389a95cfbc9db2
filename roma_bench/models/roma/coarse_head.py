"""ROMA's coarse head: the card's coarse observables from its learned supernodes.

For the effective learning task (``spec.learning_task == "effective"``) ROMA predicts the coarse
observables ``o_c(t0 + k)`` ``[m, H, C]`` of the card's partition (``Batch.coarse_assignment``,
``m`` parts) itself, through its learned coarse-graining instead of averaging its fine
forecast:

- part weights over the first level's supernodes: ``A_c = mean_{i ∈ c} S_i`` ``[m, m₁]``
  (``S`` ``[n, m₁]`` the learned assignment; rows of ``A`` mix supernodes);
- part tokens ``r_c = A_c B`` ``[m, p·d]`` from the supernodes' branch coefficients ``B``
  ``[m₁, p·d]`` (the multiscale transformer's outputs at the supernode tokens);
- current observables ``o_c(t0) = mean_{i ∈ c} state_i`` ``[m, C]`` (the harness's
  offset-free state: ``(cos θ, sin θ)`` for Kuramoto, ``u/ℓ`` for social activity);
- ``ô_c(t0 + k) = o_c(t0) + W [r_c, o_c(t0)] + β`` reshaped to ``[H, C]``.

The prediction is in the state's units; the harness multiplies a social one by the stored
level scale ℓ (:meth:`roma_bench.training.normalization.Normalization.decode_coarse`).
Gradients reach the pooling through ``A`` and ``B``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from roma_bench.dynamics.observables import part_mean


class CoarseHead(nn.Module):
    """``(S [n, m₁], B [m₁, p·d], state [n, C], assignment [n], m) → [m, H, C]``."""

    def __init__(self, coeff_dim: int, channels: int, horizon: int) -> None:
        super().__init__()
        self.channels, self.horizon = channels, horizon
        self.readout = nn.Linear(coeff_dim + channels, horizon * channels)
        nn.init.zeros_(self.readout.bias)

    def forward(
        self,
        assignment_weights: Tensor,
        supernode_coeffs: Tensor,
        state: Tensor,
        parts: Tensor,
        num_parts: int,
    ) -> Tensor:
        if state.shape[1] != self.channels:
            raise ValueError(
                f"coarse head: state has {state.shape[1]} channels, expected {self.channels}"
            )
        weights = part_mean(assignment_weights, parts, num_parts)  # [m, m₁]
        tokens = weights @ supernode_coeffs  # [m, p·d]
        current = part_mean(state, parts, num_parts)  # [m, C]
        change = self.readout(torch.cat([tokens, current], dim=-1))
        return current.unsqueeze(1) + change.view(num_parts, self.horizon, self.channels)
