"""Small synthetic specs and batches for the baseline tests (no task data needed).

``make_batch`` builds a random bidirected graph of ``n`` nodes and a Kuramoto-like history
(phases drifting at natural frequencies ω_i with a weak neighbour pull), so a model that
learns anything beats persistence.
"""

from __future__ import annotations

import functools

import torch
from kit import batch_of, bidirected_random_graph, drifting_phases
from kit import behind_harness as behind_harness  # re-exported: the baseline tests' harness
from kit import make_spec as kit_spec

from roma_bench.data.batch import Batch
from roma_bench.models.base import TaskSpec

LOOKBACK, HORIZON, ENCODINGS = 16, 4, (4, 4)

#: The stored normalization a task of these batches would have (one-frame steps ω·dt ~ 0.1).
STATS = {"increment_scale": 0.1, "difference_scales": (0.1, 0.05, 0.05, 0.05), "level_scale": 1.0}


def make_spec(system: str = "kuramoto", data_path: str | None = None) -> TaskSpec:
    """A km-tiny-like spec (κ=16, H=4, 4+4 encoding channels)."""
    return kit_spec(system, name="km-tiny", lookback=LOOKBACK, horizon=HORIZON,
                    encoding_sizes=ENCODINGS, num_nodes=2000, data_path=data_path)  # fmt: skip


@functools.cache
def _spec(system: str) -> TaskSpec:
    return make_spec(system)


def make_batch(n: int = 64, seed: int = 0, system: str = "kuramoto") -> Batch:
    """A random ``n``-node batch: drifting phases (kuramoto) or positive activity (social)."""
    gen = torch.Generator().manual_seed(seed)
    graph = bidirected_random_graph(n, 3, gen)
    omega = torch.randn(n, generator=gen)
    theta0 = 5.0 * torch.randn(n, generator=gen)
    field = drifting_phases(theta0, omega, LOOKBACK + HORIZON, 0.1, (0.05, 0.3))
    if system == "social":
        field = torch.nn.functional.softplus(field / 5.0)
    node_ids = torch.randperm(2000, generator=gen)[:n]
    encodings = torch.randn(n, sum(ENCODINGS), generator=gen)
    coords = torch.stack(
        [15.0 * torch.rand(n, generator=gen), 6.283 * torch.rand(n, generator=gen)], dim=-1
    )
    return batch_of(graph, field, _spec(system), node_ids=node_ids, encodings=encodings,
                    coords=coords, t0=float((LOOKBACK - 1) * 0.1))  # fmt: skip
