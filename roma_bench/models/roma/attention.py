"""Multiscale attention: a pre-norm transformer over fine-node and supernode tokens.

Token ``k`` (a fine node or a supernode of level ``l``) enters as

``x_k = Lift(u_k) + Ctx(z_k) + Idx[k] + Lvl[l]``

- ``Lift(u_k)``: the history ``u_k`` ``[κ]`` lifted by ``L`` fixed random functions
  (:class:`Lifting`), ``[κ·L]``;
- ``Ctx(z_k) = LayerNorm(MLP(z_k))``: context embedding of the precoder embedding;
- ``Idx``: learned index embedding (fine tokens use row ``k mod index_size``, supernodes
  their own rows); ``Lvl``: learned scale (level) embedding. Each term can be switched
  off for ablations.

Then ``h⁰ = W_in x`` and, per block, ``h ← h + MHA(LN(h))``, ``h ← h + MLP(LN(h))``;
the output is ``W_out LN(h)``. ``MHA`` is standard multi-head attention,
``A = softmax(QKᵀ/√d_h)`` per head; with ``need_weights`` the maps ``A``
``[layers, heads, T, T]`` are returned (rows sum to 1) together with a coarse↔fine
summary: per layer and head, the mean attention mass that fine queries put on fine and
on coarse keys and that coarse queries put on fine and on coarse keys.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class Lifting(nn.Module):
    """``L`` fixed random functions of one variable applied elementwise: ``[T, κ] → [T, κ·L]``.

    Each function is a sample of a Gaussian random field with an RBF kernel of length
    scale ``ℓ``, drawn once by random Fourier features,
    ``φ_k(v) = √(2/R) Σ_r a_kr cos(ω_r v + β_r)``, ``ω ~ N(0, ℓ⁻²)``, ``β ~ U(0, 2π)``,
    ``a ~ N(0, 1)``, evaluated at ``asinh(v)`` (compresses large normalized values).
    The draws are buffers (saved with the model) from a fixed seed.
    """

    def __init__(self, num_func: int, length_scale: float = 1.0, features: int = 64, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("omega", torch.randn(features, generator=gen) / length_scale)
        self.register_buffer("phase", 2 * math.pi * torch.rand(features, generator=gen))
        amp = torch.randn(features, num_func, generator=gen) * math.sqrt(2.0 / features)
        self.register_buffer("amplitude", amp)
        self.num_func = num_func

    def forward(self, u: Tensor) -> Tensor:
        v = torch.asinh(u).unsqueeze(-1)  # [T, κ, 1]
        basis = torch.cos(v * self.omega + self.phase)  # [T, κ, R]
        return (basis @ self.amplitude).flatten(-2)  # [T, κ·L]


class _Attention(torch.autograd.Function):
    """``softmax(q kᵀ/√d_h) v`` for ``q, k, v`` ``[heads, T, d_h]``, every product arranged so
    that its output has ``T`` columns.

    On one CPU thread MKL multiplies ``[T, T] @ [T, d_h]`` with a small ``d_h`` (roma-tiny:
    9) 3–4× slower than the transposed ``[d_h, T] @ [T, T]``; torch's attention and its
    autograd use the slow form for ``A v`` and for three of the four backward products.
    Same formulas (``benchmarks/attention.py`` times both and checks they agree)."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor) -> Tensor:  # type: ignore[override]
        q = q * (1.0 / math.sqrt(q.shape[-1]))
        weights = torch.softmax(q @ k.transpose(-1, -2), dim=-1)  # [heads, T, T]
        ctx.save_for_backward(q, k, v, weights)
        return (v.transpose(-1, -2) @ weights.transpose(-1, -2)).transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        q, k, v, weights = ctx.saved_tensors
        grad_v = (grad.transpose(-1, -2) @ weights).transpose(-1, -2)
        grad_w = grad @ v.transpose(-1, -2)
        grad_s = torch._softmax_backward_data(grad_w, weights, -1, weights.dtype)
        grad_q = (k.transpose(-1, -2) @ grad_s.transpose(-1, -2)).transpose(-1, -2)
        grad_k = (q.transpose(-1, -2) @ grad_s).transpose(-1, -2)
        return grad_q * (1.0 / math.sqrt(q.shape[-1])), grad_k, grad_v


def attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """Multi-head attention ``softmax(q kᵀ/√d_h) v`` ``[heads, T, d_h]`` (no mask, no dropout):
    :class:`_Attention` on the CPU, ``F.scaled_dot_product_attention`` elsewhere."""
    if q.device.type != "cpu":
        return F.scaled_dot_product_attention(q, k, v)
    return _Attention.apply(q, k, v)


class AttentionBlock(nn.Module):
    """Pre-norm block: ``h + MHA(LN h)`` then ``h + W₂ GELU(W₁ LN h)``; no attention biases."""

    def __init__(self, width: int, heads: int, ffn_factor: int = 4, dropout: float = 0.0):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.norm2 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)
        self.ffn = nn.Sequential(
            nn.Linear(width, ffn_factor * width),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(ffn_factor * width, width),
            nn.Dropout(dropout),
        )

    def forward(self, h: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        T, width = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(T, 3, self.heads, width // self.heads).unbind(1)
        q, k, v = (x.transpose(0, 1) for x in (q, k, v))  # [heads, T, d_h]
        weights = None
        if need_weights:
            weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
            attended = weights @ v
        else:
            attended = attention(q, k, v)
        h = h + self.proj(attended.transpose(0, 1).reshape(T, width))
        return h + self.ffn(self.norm2(h)), weights


class MultiscaleTransformer(nn.Module):
    """Token embeddings + pre-norm transformer; ``forward(tokens [T, in_dim]) → [T, out_dim]``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        width: int,
        depth: int,
        heads: int,
        ffn_factor: int = 4,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.lin_in = nn.Linear(in_dim, width)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            AttentionBlock(width, heads, ffn_factor, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width)
        self.lin_out = nn.Linear(width, out_dim)

    def forward(self, tokens: Tensor, need_weights: bool = False) -> tuple[Tensor, list[Tensor]]:
        h = self.dropout(self.lin_in(tokens))
        maps: list[Tensor] = []
        for block in self.blocks:
            h, weights = block(h, need_weights)
            if weights is not None:
                maps.append(weights)
        return self.lin_out(self.norm(h)), maps


def coarse_fine_summary(maps: list[Tensor], num_fine: int) -> dict[str, Tensor]:
    """Mean attention mass between scales, each ``[layers, heads]``.

    ``fine_to_fine``/``fine_to_coarse``: mean over fine queries of the mass on fine/coarse
    keys; ``coarse_to_fine``/``coarse_to_coarse``: the same over supernode queries
    (``nan`` when there are no supernodes).
    """
    A = torch.stack(maps)  # [layers, heads, T, T]
    fine_q, coarse_q = A[:, :, :num_fine], A[:, :, num_fine:]
    nan = torch.full(A.shape[:2], float("nan"), device=A.device)

    def mass(q: Tensor, keys: slice) -> Tensor:
        return q[..., keys].sum(-1).mean(-1) if q.shape[2] else nan

    fine, coarse = slice(0, num_fine), slice(num_fine, None)
    return {
        "fine_to_fine": mass(fine_q, fine),
        "fine_to_coarse": mass(fine_q, coarse),
        "coarse_to_fine": mass(coarse_q, fine),
        "coarse_to_coarse": mass(coarse_q, coarse),
    }


class TokenEmbedding(nn.Module):
    """``x_k = Lift(u_k) + Ctx(z_k) + Idx[k] + Lvl[l]`` for fine and supernode tokens.

    ``forward(histories [T, κ], contexts [T, D], level_sizes [n, m_1, …]) → [T, κ·L]``;
    ``context`` selects one of ``num_contexts`` context MLPs (ROMA's effective-dynamics
    operator has its own). Switched-off terms are omitted (ablations).
    """

    def __init__(
        self,
        lookback: int,
        num_func: int,
        embed_dim: int,
        index_size: int,
        pool_sizes: list[int],
        length_scale: float = 1.0,
        num_contexts: int = 1,
        use_lifted: bool = True,
        use_context: bool = True,
        use_index: bool = True,
        use_scale: bool = True,
    ) -> None:
        super().__init__()
        self.dim = lookback * num_func
        self.index_size = index_size
        self.use_lifted = use_lifted
        self.lifting = Lifting(num_func, length_scale)
        self.contexts = nn.ModuleList()
        if use_context:
            for _ in range(num_contexts):
                self.contexts.append(
                    nn.Sequential(
                        nn.Linear(embed_dim, 4 * embed_dim),
                        nn.GELU(),
                        nn.Linear(4 * embed_dim, 4 * embed_dim),
                        nn.GELU(),
                        nn.Linear(4 * embed_dim, self.dim),
                        nn.LayerNorm(self.dim),
                    )
                )
        rows = index_size + sum(pool_sizes)
        self.index = nn.Parameter(0.02 * torch.randn(rows, self.dim)) if use_index else None
        self.level = (
            nn.Parameter(0.02 * torch.randn(len(pool_sizes) + 1, self.dim)) if use_scale else None
        )

    def forward(
        self, histories: Tensor, contexts: Tensor, level_sizes: list[int], context: int = 0
    ) -> Tensor:
        T = histories.shape[0]
        x = self.lifting(histories) if self.use_lifted else histories.new_zeros(T, self.dim)
        if len(self.contexts):
            x = x + self.contexts[context](contexts)
        if self.index is not None:
            n = level_sizes[0]
            fine_rows = torch.arange(n, device=x.device) % self.index_size
            coarse_rows = self.index_size + torch.arange(T - n, device=x.device)
            x = x + self.index[torch.cat([fine_rows, coarse_rows])]
        if self.level is not None:
            levels = torch.repeat_interleave(
                torch.arange(len(level_sizes), device=x.device),
                torch.tensor(level_sizes, device=x.device),
            )
            x = x + self.level[levels]
        return x
