"""``neuralop``'s spectral convolution on short 1-D windows, with its FFTs as matrix products.

On a real window of ``L`` frames, ``neuralop.layers.spectral_convolution.SpectralConv``
computes (``fft_norm="forward"``, ``K`` kept modes, ``K ≤ ⌊L/2⌋ + 1``)

    X_k = (1/L) Σ_t x_t e^{−2πi k t/L}                    (rfft, first K modes)   [B, I, K]
    Y_k = contract(X_k, W_k)                                (dense / Tucker / CP / TT) [B, O, K]
    y_t = Σ_{k<K} c_k (Re Y_k cos(2πkt/L) − Im Y_k sin(2πkt/L))    (irfft, zero above K)

with ``c_k = 1`` for ``k = 0`` and the Nyquist mode ``k = L/2``, ``c_k = 2`` otherwise (irfft
ignores the imaginary part of those two). :class:`WindowSpectralConv` computes the same two
transforms as products with fixed ``[L, 2K]`` and ``[2K, L]`` matrices. For the lookback
windows of the FNO/TFNO baselines (``L = 16``, ``K = 5``) that is a few MFLOP, where the FFT
path on the CPU allocates, zero-fills and copies full-size complex buffers and runs a full
complex FFT in the backward of ``rfft``; the operators' forward + backward take 0.86–0.91×
the time of the FFT path on one thread (``benchmarks/spectral.py``).
The weights, the contraction (``self._contract``) and the state dict are ``neuralop``'s, so
results differ from the FFT path only by float rounding. Anything else (several dimensions,
complex data, half precision, resampled outputs) goes through ``neuralop``'s own forward.
"""

from __future__ import annotations

import math

import torch
from neuralop.layers.spectral_convolution import SpectralConv
from torch import Tensor


def dft_matrices(
    length: int, modes: int, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """The truncated real DFT of ``length`` frames and its inverse, as real matrices.

    Returns ``(forward, inverse)``, ``[L, 2K]`` and ``[2K, L]``, on interleaved
    ``(Re, Im)`` pairs of the ``K`` modes: ``view_as_complex((x @ forward).view(..., K, 2))``
    equals ``torch.fft.rfft(x, norm="forward")[..., :K]``, and
    ``view_as_real(Y).flatten(-2) @ inverse`` equals ``torch.fft.irfft(Y zero-padded to
    ⌊L/2⌋+1 modes, n=L, norm="forward")``.
    """
    if not 1 <= modes <= length // 2 + 1:
        raise ValueError(
            f"modes must lie in [1, {length // 2 + 1}] for {length} frames, got {modes}"
        )
    t = torch.arange(length, dtype=torch.float64)
    k = torch.arange(modes, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(t, k) / length  # [L, K]
    weight = torch.full((modes,), 2.0, dtype=torch.float64)
    weight[0] = 1.0
    if length % 2 == 0 and modes == length // 2 + 1:
        weight[-1] = 1.0  # the Nyquist mode
    forward = torch.stack([torch.cos(angle), -torch.sin(angle)], dim=-1) / length  # [L, K, 2]
    inverse = torch.stack([torch.cos(angle).T, -torch.sin(angle).T], dim=1)  # [K, 2, L]
    inverse = inverse * weight[:, None, None]
    return forward.reshape(length, 2 * modes).to(dtype), inverse.reshape(2 * modes, length).to(
        dtype
    )


class WindowSpectralConv(SpectralConv):
    """``SpectralConv`` whose 1-D real transforms are matrix products (see module)."""

    def _matrix_path(self, x: Tensor, output_shape: object) -> bool:
        return (
            self.order == 1
            and not self.complex_data
            and output_shape is None
            and self.resolution_scaling_factor is None
            and self.fno_block_precision == "full"
            and self.fft_norm == "forward"
            and not x.is_complex()
        )

    def forward(self, x: Tensor, output_shape: tuple[int, ...] | None = None) -> Tensor:
        """``[B, I, L] → [B, O, L]``, equal to :meth:`SpectralConv.forward` up to rounding."""
        if not self._matrix_path(x, output_shape):
            return super().forward(x, output_shape)
        length = x.shape[-1]
        weight = self.weight
        kept = min(length // 2 + 1, self.n_modes[-1], weight.shape[-1])
        if weight.shape[-1] != kept:
            weight = weight[(slice(None),) * (weight.ndim - 1) + (slice(None, kept),)]
        forward, inverse = self._matrices(length, kept, x)
        pairs = (x.contiguous() @ forward).unflatten(-1, (kept, 2))  # [B, I, K, 2]
        spectrum = torch.view_as_complex(pairs)  # [B, I, K]
        mixed = self._contract(spectrum, weight, separable=self.separable)  # [B, O, K]
        out = torch.view_as_real(mixed.contiguous()).flatten(-2) @ inverse  # [B, O, L]
        if self.bias is not None:
            out = out + self.bias
        return out

    def _matrices(self, length: int, modes: int, x: Tensor) -> tuple[Tensor, Tensor]:
        key = (length, modes, x.dtype, x.device)
        cache = self.__dict__.setdefault("_dft_cache", {})
        if key not in cache:
            cache[key] = tuple(m.to(x.device) for m in dft_matrices(length, modes, x.dtype))
        return cache[key]
