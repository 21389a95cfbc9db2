"""Small synthetic specs and batches for the baseline tests (no task data needed).

``make_batch`` builds a random bidirected graph of ``n`` nodes and a Kuramoto-like history
(phases drifting at natural frequencies ω_i with a weak neighbour pull), so a model that
learns anything beats persistence.
"""

from __future__ import annotations

import torch
from graph_doubles import bidirected_graph

from roma_bench.data.batch import Batch
from roma_bench.models.base import TaskSpec
from roma_bench.training.normalization import HarnessModel, harness_model

LOOKBACK, HORIZON, ENCODINGS = 16, 4, (4, 4)

#: The stored normalization a task of these batches would have (one-frame steps ω·dt ~ 0.1).
STATS = {"increment_scale": 0.1, "difference_scales": (0.1, 0.05, 0.05, 0.05), "level_scale": 1.0}


def behind_harness(model, mode: str = "increments") -> HarnessModel:
    """``model`` as the harness runs it: raw batch in, decoded field values out."""
    return harness_model(model, STATS, mode)


def make_spec(system: str = "kuramoto", data_path: str | None = None) -> TaskSpec:
    """A km-tiny-like spec (κ=16, H=4, 4+4 encoding channels)."""
    return TaskSpec(
        name="km-tiny",
        version="1.0",
        system=system,
        lookback=LOOKBACK,
        horizon=HORIZON,
        encoding_sizes=ENCODINGS,
        coarse_channels=2 if system == "kuramoto" else 1,
        num_nodes=2000,
        frame_dt=0.1,
        data_path=data_path,
    )


def make_batch(n: int = 64, seed: int = 0, system: str = "kuramoto") -> Batch:
    """A random ``n``-node batch: drifting phases (kuramoto) or positive activity (social)."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (3 * n,), generator=gen)
    dst = torch.randint(0, n, (3 * n,), generator=gen)
    keep = src != dst
    graph = bidirected_graph(src[keep], dst[keep], n)
    steps = LOOKBACK + HORIZON
    frame_dt = 0.1
    omega = torch.randn(n, generator=gen)
    theta0 = 5.0 * torch.randn(n, generator=gen)
    k = torch.arange(steps, dtype=torch.float32)
    field = theta0[:, None] + omega[:, None] * frame_dt * k + 0.05 * torch.sin(0.3 * k)[None]
    if system == "social":
        field = torch.nn.functional.softplus(field / 5.0)
    field = field.float()
    parts = 4
    assignment = torch.arange(n) % parts
    channels = 2 if system == "kuramoto" else 1
    return Batch(
        graph=graph,
        node_ids=torch.randperm(2000, generator=gen)[:n],
        history=field[:, :LOOKBACK].contiguous(),
        target=field[:, LOOKBACK:].contiguous(),
        t0=float((LOOKBACK - 1) * frame_dt),
        frame_dt=frame_dt,
        encodings=torch.randn(n, sum(ENCODINGS), generator=gen),
        coords=torch.stack(
            [15.0 * torch.rand(n, generator=gen), 6.283 * torch.rand(n, generator=gen)], dim=-1
        ),
        coarse_assignment=assignment,
        coarse_target=torch.zeros(parts, HORIZON, channels),
        system=system,
        encoding_sizes=ENCODINGS,
    )
