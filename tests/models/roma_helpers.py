"""Random graphs and Batches for the ROMA tests (no task store needed)."""

from __future__ import annotations

import torch
from graph_doubles import simple_graph

from roma_bench.data.batch import Batch
from roma_bench.models.base import TaskSpec
from roma_bench.training.normalization import HarnessModel, harness_model

#: A stored normalization for the random batches (one-frame steps ω·dt ~ 0.1).
STATS = {"increment_scale": 0.1, "difference_scales": (0.1, 0.05, 0.05, 0.05), "level_scale": 5.0}


def behind_harness(model) -> HarnessModel:
    """``model`` as the harness runs it: raw batch in, decoded field values out."""
    return harness_model(model, STATS, "increments")


def random_graph(n: int, avg_degree: float = 3.0, seed: int = 0):
    """A connected bidirected graph: a random spanning tree plus random extra edges."""
    gen = torch.Generator().manual_seed(seed)
    parents = (torch.rand(n - 1, generator=gen) * torch.arange(1, n)).long()
    src = [torch.arange(1, n), parents]
    dst = [parents, torch.arange(1, n)]
    extra = max(int(n * (avg_degree / 2 - 1)), 0)
    a = torch.randint(0, n, (extra,), generator=gen)
    b = torch.randint(0, n, (extra,), generator=gen)
    keep = a != b
    src += [a[keep], b[keep]]
    dst += [b[keep], a[keep]]
    return simple_graph(torch.cat(src), torch.cat(dst), n)


def make_spec(
    system: str = "kuramoto", lookback: int = 8, horizon: int = 2, enc: tuple[int, int] = (4, 4)
) -> TaskSpec:
    return TaskSpec(
        name="unit",
        version="0",
        system=system,
        lookback=lookback,
        horizon=horizon,
        encoding_sizes=enc,
        coarse_channels=2 if system == "kuramoto" else 1,
        num_nodes=1000,
        frame_dt=0.1,
    )


def make_batch(spec: TaskSpec, n: int = 40, seed: int = 0) -> Batch:
    """A random Batch shaped for ``spec`` (Kuramoto-like phases or non-negative activity)."""
    gen = torch.Generator().manual_seed(seed)
    graph = random_graph(n, seed=seed)
    frames = spec.lookback + spec.horizon
    omega = torch.randn(n, 1, generator=gen)
    t = torch.arange(frames, dtype=torch.float32) * spec.frame_dt
    field = 5 * torch.randn(n, 1, generator=gen) + omega * t
    if spec.system == "social":
        field = field.abs()
    m = 4
    return Batch(
        graph=graph,
        node_ids=torch.arange(n),
        history=field[:, : spec.lookback].contiguous(),
        target=field[:, spec.lookback :].contiguous(),
        t0=1.0,
        frame_dt=spec.frame_dt,
        encodings=torch.randn(n, sum(spec.encoding_sizes), generator=gen),
        coords=torch.rand(n, 2, generator=gen),
        coarse_assignment=torch.arange(n) % m,
        coarse_target=torch.zeros(m, spec.horizon, spec.coarse_channels),
        system=spec.system,
        encoding_sizes=spec.encoding_sizes,
    )
