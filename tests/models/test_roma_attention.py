"""Multiscale attention: maps, coarse↔fine summary, token embeddings."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from roma_bench.models.roma.attention import (
    AttentionBlock,
    Lifting,
    MultiscaleTransformer,
    TokenEmbedding,
    attention,
    coarse_fine_summary,
)


def test_attention_maps_shapes_and_rows() -> None:
    torch.manual_seed(0)
    tr = MultiscaleTransformer(in_dim=12, out_dim=5, width=16, depth=3, heads=4)
    x = torch.randn(30, 12)
    out, maps = tr(x, need_weights=True)
    assert out.shape == (30, 5)
    assert len(maps) == 3
    for A in maps:
        assert A.shape == (4, 30, 30)
        assert torch.allclose(A.sum(-1), torch.ones(4, 30), atol=1e-5)
        assert torch.all(A >= 0)
    out_fast, none = tr(x)
    assert none == [] and torch.allclose(out, out_fast, atol=1e-5)


def test_block_matches_reference_attention() -> None:
    torch.manual_seed(1)
    block = AttentionBlock(8, 2)
    h = torch.randn(6, 8)
    out, A = block(h, need_weights=True)
    x = block.norm1(h)
    q, k, v = block.qkv(x).chunk(3, dim=-1)
    heads = []
    for i in range(2):
        sl = slice(4 * i, 4 * i + 4)
        w = torch.softmax(q[:, sl] @ k[:, sl].T / 2.0, dim=-1)
        assert torch.allclose(w, A[i], atol=1e-6)
        heads.append(w @ v[:, sl])
    h2 = h + block.proj(torch.cat(heads, dim=-1))
    assert torch.allclose(out, h2 + block.ffn(block.norm2(h2)), atol=1e-5)


def test_coarse_fine_summary() -> None:
    A = torch.softmax(torch.randn(2, 3, 10, 10), dim=-1)
    s = coarse_fine_summary(list(A), num_fine=7)
    assert all(v.shape == (2, 3) for v in s.values())
    assert torch.allclose(s["fine_to_fine"] + s["fine_to_coarse"], torch.ones(2, 3), atol=1e-5)
    assert torch.allclose(s["coarse_to_fine"] + s["coarse_to_coarse"], torch.ones(2, 3), atol=1e-5)
    expected = A[0, 1, 7:, :7].sum(-1).mean()
    assert torch.allclose(s["coarse_to_fine"][0, 1], expected)
    only_fine = coarse_fine_summary(list(A), num_fine=10)
    assert torch.isnan(only_fine["coarse_to_fine"]).all()


def test_lifting_is_fixed_and_elementwise() -> None:
    lift = Lifting(num_func=3)
    u = torch.randn(5, 4)
    out = lift(u)
    assert out.shape == (5, 12)
    assert torch.equal(out, Lifting(num_func=3)(u))  # same seed, same functions
    assert torch.allclose(lift(u[:, :1]), out[:, :3])  # value k only affects its own block


def test_token_embedding_switches() -> None:
    torch.manual_seed(0)
    kw = dict(lookback=4, num_func=2, embed_dim=6, index_size=8, pool_sizes=[3])
    hist, ctx = torch.randn(13, 4), torch.randn(13, 6)
    full = TokenEmbedding(**kw)
    assert full(hist, ctx, [10, 3]).shape == (13, 8)
    none = TokenEmbedding(**kw, use_context=False, use_index=False, use_scale=False)
    assert torch.allclose(none(hist, ctx, [10, 3]), none.lifting(hist))
    assert none.index is None and none.level is None and len(none.contexts) == 0
    # fine tokens beyond index_size wrap around
    only_index = TokenEmbedding(**kw, use_lifted=False, use_context=False, use_scale=False)
    out = only_index(hist, ctx, [10, 3])
    assert torch.allclose(out[9], only_index.index[1])
    assert torch.allclose(out[10], only_index.index[8])


def test_attention_and_its_gradients_equal_torch_sdpa() -> None:
    """The CPU attention with re-arranged products: same output and q, k, v gradients as
    ``F.scaled_dot_product_attention`` (float64, so only the formulas can differ)."""
    torch.manual_seed(2)
    q, k, v = (torch.randn(3, 11, 5, dtype=torch.float64, requires_grad=True) for _ in range(3))
    grad = torch.randn(3, 11, 5, dtype=torch.float64)

    def values(fn) -> list[torch.Tensor]:
        for x in (q, k, v):
            x.grad = None
        out = fn(q, k, v)
        out.backward(grad)
        return [out.detach(), q.grad.clone(), k.grad.clone(), v.grad.clone()]

    for ours, reference in zip(values(attention), values(F.scaled_dot_product_attention)):
        assert torch.allclose(ours, reference, atol=1e-12)
    assert torch.autograd.gradcheck(attention, (q, k, v))
