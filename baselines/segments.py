"""A vectorized ``segment_csr`` for ``neuralop``'s GNO layers (GINO) without torch_scatter.

``neuralop.layers.segment_csr`` falls back, when torch_scatter is absent or not asked for, to a
Python loop over the output points: ``out[i] += Σ src[indptr[i]:indptr[i+1]]``. Its backward
materializes a zero tensor the size of ``src`` for every output point (the gradient of each
slice), so one GINO step on 512 nodes spent a third of its time filling zeros. This module's
:func:`segment_csr` computes the same reduction in one ``index_add``:

``out[…, i, :] = Σ_{e ∈ [p_i, p_{i+1})} src[…, e, :]`` (``/ (p_{i+1} − p_i)`` for ``"mean"``,
an empty segment giving 0), ``p = indptr`` (``[n_out + 1]``, or ``[b, n_out + 1]`` for a
batched ``src`` ``[b, E, c]``, whose rows must be equal, as ``neuralop`` builds them).

:func:`install` makes ``neuralop.layers.integral_transform`` call it; it keeps the
torch_scatter path for callers that ask for it and have it.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import torch
from neuralop.layers import integral_transform
from torch import Tensor

_NEURALOP_SEGMENT_CSR = integral_transform.segment_csr


def segment_csr(
    src: Tensor, indptr: Tensor, reduction: Literal["mean", "sum"], use_scatter: bool = True
) -> Tensor:
    """Sum or mean of ``src`` ``[E, c]`` / ``[b, E, c]`` over the CSR segments of ``indptr``
    → ``[n_out, c]`` / ``[b, n_out, c]`` (module docstring)."""
    if reduction not in ("mean", "sum"):
        raise ValueError(f"segment_csr: reduction must be 'mean' or 'sum', not {reduction!r}")
    if use_scatter and importlib.util.find_spec("torch_scatter") is not None:
        return _NEURALOP_SEGMENT_CSR(src, indptr, reduction, use_scatter)
    axis = src.ndim - 2  # the point axis: 0, or 1 when batched
    ptr = indptr[0] if indptr.ndim == 2 else indptr
    counts = ptr[1:] - ptr[:-1]  # [n_out]
    segment = torch.repeat_interleave(torch.arange(counts.numel(), device=src.device), counts)
    start = int(ptr[0])
    rows = src.narrow(axis, start, segment.numel())
    shape = list(src.shape)
    shape[axis] = counts.numel()
    out = src.new_zeros(shape).index_add_(axis, segment, rows)
    if reduction == "mean":
        out = out / counts.clamp(min=1).to(out.dtype).unsqueeze(-1)
    return out


def install() -> None:
    """Route ``neuralop``'s GNO integral transforms through :func:`segment_csr`."""
    integral_transform.segment_csr = segment_csr
