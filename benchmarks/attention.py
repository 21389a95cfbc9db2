"""ROMA's multiscale attention on the CPU: :func:`roma_bench.models.roma.attention.attention`
against ``torch.nn.functional.scaled_dot_product_attention``, forward + backward.

Both compute ``softmax(q kᵀ/√d_h) v``; ours arranges every matrix product so that its
output has ``T`` columns, because MKL on one CPU thread multiplies ``[T, T] @ [T, d_h]``
with a small head width several times slower than the transposed product. Prints the
median milliseconds of each and their ratio, and the largest difference of the outputs
and gradients (they must agree to float32 rounding).

    OMP_NUM_THREADS=1 python benchmarks/attention.py [--tokens 528] [--heads 4] [--head-dim 9]
"""

from __future__ import annotations

import argparse

import torch
from timing import median_ms
from torch.nn import functional as F

from roma_bench.models.roma.attention import attention


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=528, help="T (roma-tiny: 512 + 16)")
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--head-dim", type=int, default=9, help="d_h (roma-tiny: 36 / 4)")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shape = (args.heads, args.tokens, args.head_dim)
    q, k, v = (torch.randn(shape, requires_grad=True) for _ in range(3))
    grad = torch.randn(shape)

    def values(fn) -> list[torch.Tensor]:
        for x in (q, k, v):
            x.grad = None
        out = fn(q, k, v)
        out.backward(grad)
        return [out.detach(), q.grad, k.grad, v.grad]

    ours = values(attention)
    reference = values(F.scaled_dot_product_attention)
    worst = max(float((a - b).abs().max()) for a, b in zip(ours, reference))
    t_ours = median_ms(lambda: attention(q, k, v).backward(grad), args.repeats)
    t_ref = median_ms(lambda: F.scaled_dot_product_attention(q, k, v).backward(grad), args.repeats)
    print(f"attention {shape} (heads, T, d_h), forward + backward, {args.threads} thread(s), "
          f"median of {args.repeats}")  # fmt: skip
    print(f"  torch SDPA  {t_ref:7.2f} ms")
    print(f"  ours        {t_ours:7.2f} ms   ours/SDPA {t_ours / t_ref:.2f}")
    print(f"  largest difference of output and gradients: {worst:.2e}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    raise SystemExit(main())
