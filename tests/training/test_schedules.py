"""The optimizer and schedule of every training run (roma_bench.training.schedules)."""

from __future__ import annotations

import torch

from roma_bench.training.config import OptimConfig
from roma_bench.training.schedules import build_optimizer, lr_factor


def test_warmup_then_cosine_to_the_floor():
    assert lr_factor(0, 100, 10, 0.05) == 0.1
    assert lr_factor(9, 100, 10, 0.05) == 1.0
    assert lr_factor(10, 100, 10, 0.05) == 1.0
    assert abs(lr_factor(55, 100, 10, 0.05) - (0.05 + 0.95 * 0.5)) < 1e-12
    assert lr_factor(100, 100, 10, 0.05) == 0.05


def test_multi_tensor_adamw_and_clipping_equal_the_per_tensor_loop_bit_for_bit():
    """build_optimizer uses the multi-tensor kernels (foreach) for speed; the weights after
    some clipped steps equal torch's per-tensor AdamW exactly, complex parameters (the
    spectral weights of fno/tfno/gino) included."""
    generator = torch.Generator().manual_seed(0)
    shapes = [(7, 5), (5,), (3, 4, 4), (1,)]
    start = [torch.randn(s, generator=generator).requires_grad_() for s in shapes]
    start.append(torch.randn(4, 3, dtype=torch.cfloat, generator=generator).requires_grad_())
    grads = [[torch.randn(p.shape, dtype=p.dtype, generator=generator) * 3 for p in start]
             for _ in range(6)]  # fmt: skip
    optim = OptimConfig(lr=0.01, warmup_steps=2, weight_decay=0.1, grad_clip=1.0)

    def run(make) -> list[torch.Tensor]:
        params = [p.detach().clone().requires_grad_() for p in start]
        optimizer, scheduler = make(params)
        for step_grads in grads:
            for p, g in zip(params, step_grads):
                p.grad = g.clone()
            foreach = optimizer.param_groups[0]["foreach"]
            torch.nn.utils.clip_grad_norm_(params, optim.grad_clip, foreach=foreach)
            optimizer.step()
            scheduler.step()
        return [p.detach() for p in params]

    def per_tensor(params):
        optimizer = torch.optim.AdamW(
            params, lr=optim.lr, betas=optim.betas, weight_decay=optim.weight_decay, foreach=False
        )
        factor = lambda s: lr_factor(s, len(grads), optim.warmup_steps, optim.min_lr_ratio)  # noqa: E731
        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    fast = run(lambda params: build_optimizer(params, optim, len(grads)))
    slow = run(per_tensor)
    assert all(torch.equal(a, b) for a, b in zip(fast, slow))
    assert not torch.equal(fast[0], start[0].detach())
    assert build_optimizer(start[:1], optim, 1)[0].defaults["foreach"] is True
