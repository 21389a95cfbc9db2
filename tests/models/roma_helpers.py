"""Random graphs and Batches for the ROMA tests (no task store needed); built with :mod:`kit`."""

from __future__ import annotations

import torch
from kit import batch_of, connected_random_graph
from kit import behind_harness as kit_harness
from kit import make_spec as kit_spec

from roma_bench.data.batch import Batch
from roma_bench.models.base import TaskSpec
from roma_bench.training.normalization import HarnessModel

#: A stored normalization for the random batches (one-frame steps ω·dt ~ 0.1).
STATS = {"increment_scale": 0.1, "difference_scales": (0.1, 0.05, 0.05, 0.05), "level_scale": 5.0}

#: A connected bidirected graph (the ROMA tests' name for it).
random_graph = connected_random_graph


def behind_harness(model) -> HarnessModel:
    """``model`` as the harness runs it: raw batch in, decoded field values out."""
    return kit_harness(model, STATS)


def make_spec(
    system: str = "kuramoto", lookback: int = 8, horizon: int = 2, enc: tuple[int, int] = (4, 4)
) -> TaskSpec:
    return kit_spec(system, version="0", lookback=lookback, horizon=horizon, encoding_sizes=enc)


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
    encodings = torch.randn(n, sum(spec.encoding_sizes), generator=gen)
    coords = torch.rand(n, 2, generator=gen)
    return batch_of(graph, field, spec, node_ids=torch.arange(n), encodings=encodings,
                    coords=coords, t0=1.0)  # fmt: skip
