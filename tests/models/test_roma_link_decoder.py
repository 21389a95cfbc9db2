"""The Fermi–Dirac link decoder learns r and t (as in the reference) and so beats the fixed floor.

With ``r = 0.5``, ``t = 3`` fixed, ``p_ij ≤ σ(r/t) = 0.54`` for every pair, so the balanced
link loss ``½[−log p on edges + −log(1 − p) on non-edges]`` is at least
``½·softplus(−r/t) = 0.308`` whatever the embedding. Learned ``r`` and ``t`` remove that floor.
"""

from __future__ import annotations

import math

import pytest
import torch

from roma_bench.models.roma.manifold import PoincareBall
from roma_bench.models.roma.renorm import FermiDiracDecoder
from roma_bench.registry import build_model

FIXED_FLOOR = 0.5 * math.log1p(math.exp(-0.5 / 3.0))  # 0.308


def test_r_and_t_receive_gradients() -> None:
    ball = PoincareBall(1 / 8)
    fd = FermiDiracDecoder(ball, r=0.5, t=3.0)
    assert float(fd.t) == pytest.approx(3.0) and float(fd.r) == 0.5
    x, y = ball.expmap0(torch.randn(6, 3)), ball.expmap0(torch.randn(6, 3))
    fd.probability(x, y).sum().backward()
    assert fd.r.grad is not None and float(fd.r.grad) > 0  # a larger r raises every p
    assert fd.log_t.grad is not None and float(fd.log_t.grad) != 0
    frozen = FermiDiracDecoder(ball, r=0.5, t=3.0, learn_rt=False)
    assert not frozen.r.requires_grad and not frozen.log_t.requires_grad


def _train_link(batch, spec, learn_rt: bool, steps: int = 60) -> tuple[float, float]:
    """Train ROMA's precoder + link decoder on the link loss alone; (loss, max p on edges)."""
    torch.manual_seed(0)
    model = build_model("roma", spec, "tiny", [f"learn_rt={learn_rt}"])
    history, state = model._inputs(batch)
    le, rw = model._encodings(batch)
    params = [p for p in [*model.precoder.parameters(), *model.link.parameters()]]
    optimizer = torch.optim.Adam([p for p in params if p.requires_grad], lr=2e-2)

    def embed() -> torch.Tensor:
        return model.precoder(batch.graph, torch.cat([history, state], 1), le, rw, "torch")

    for step in range(steps):
        loss = model.link.loss(batch.graph, embed(), torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        z = embed()
        loss = model.link.loss(batch.graph, z, torch.Generator().manual_seed(10_000))
        x = model.link.ball.expmap0(z)
        src, dst = batch.graph.edges()
        p_edges = model.link.probability(x[src], x[dst])
    return float(loss), float(p_edges.max())


def test_learned_r_t_beat_the_fixed_floor_on_a_km_tiny_subgraph(km_tiny_store) -> None:
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore
    from roma_bench.training.normalization import Normalization

    torch.set_num_threads(1)
    store = TaskStore(km_tiny_store)
    spec = task_spec(store.card)
    normalization = Normalization.from_stats(store.normalization, "increments")
    batch = normalization.normalize(WindowLoader(store, "train", seed=0).sample())
    fixed_loss, fixed_p = _train_link(batch, spec, learn_rt=False)
    learned_loss, learned_p = _train_link(batch, spec, learn_rt=True)
    assert fixed_loss >= FIXED_FLOOR - 1e-4 and fixed_p <= 1 / (1 + math.exp(-0.5 / 3)) + 1e-6
    print(
        f"link loss fixed {fixed_loss:.3f} (max p {fixed_p:.3f}), learned {learned_loss:.3f} (max p {learned_p:.3f})"
    )
    assert learned_loss < FIXED_FLOOR, (learned_loss, fixed_loss)
    assert learned_p > 0.9, learned_p
