"""The test kit: fake task specs, random graphs and Batches, a model behind the harness.

One place builds the objects every unit test fakes; the per-area modules
(``baselines/baseline_kit.py``, ``models/roma_helpers.py``, ``training/harness_doubles.py``)
only choose their shapes and the field they draw (:func:`drifting_phases`), so a change to
:class:`~roma_bench.data.batch.Batch` or :class:`~roma_bench.data.spec.TaskSpec` is made
here once. ``tests/`` is on ``sys.path`` (its ``conftest.py``), so ``from kit import ...``
works from every test folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from graph_doubles import bidirected_graph, simple_graph
from torch import Tensor

from roma_bench.data.batch import Batch
from roma_bench.dynamics.observables import coarse_observables
from roma_bench.models.base import TaskSpec
from roma_bench.training.normalization import HarnessModel, harness_model

#: A stored normalization of drifting phases (one-frame steps ω·dt ~ 0.1).
STATS: dict[str, Any] = {
    "increment_scale": 0.1, "difference_scales": (0.1, 0.05, 0.05, 0.05), "level_scale": 1.0,
}  # fmt: skip


def make_spec(
    system: str = "kuramoto",
    *,
    name: str = "unit",
    version: str = "1.0",
    lookback: int = 8,
    horizon: int = 2,
    encoding_sizes: tuple[int, int] = (4, 4),
    num_nodes: int = 1000,
    learning_task: str = "forecast",
    data_path: str | None = None,
) -> TaskSpec:
    """A task spec of ``system`` (Kuramoto: 2 coarse channels ``cos, sin``; social: 1)."""
    return TaskSpec(
        name=name, version=version, system=system, lookback=lookback, horizon=horizon,
        encoding_sizes=encoding_sizes, coarse_channels=2 if system == "kuramoto" else 1,
        num_nodes=num_nodes, frame_dt=0.1, learning_task=learning_task, data_path=data_path,
    )  # fmt: skip


def behind_harness(
    model: Any, stats: Mapping[str, Any] = STATS, mode: str = "increments"
) -> HarnessModel:
    """``model`` as the harness runs it: raw batch in, decoded field values out."""
    return harness_model(model, dict(stats), mode)


def bidirected_random_graph(n: int, edges_per_node: int, gen: torch.Generator) -> Any:
    """``edges_per_node·n`` random pairs (self-pairs dropped), made bidirected (a DGL graph
    where DGL loads, an ``EdgeGraph`` with the same edges otherwise: :mod:`graph_doubles`)."""
    src = torch.randint(0, n, (edges_per_node * n,), generator=gen)
    dst = torch.randint(0, n, (edges_per_node * n,), generator=gen)
    keep = src != dst
    return bidirected_graph(src[keep], dst[keep], n)


def connected_random_graph(n: int, avg_degree: float = 3.0, seed: int = 0) -> Any:
    """A connected bidirected simple graph: a random spanning tree plus random extra edges."""
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


def drifting_phases(
    theta0: Tensor, omega: Tensor, frames: int, step: float, wobble: tuple[float, float]
) -> Tensor:
    """``θ_i(k) = θ0_i + step·ω_i·k + a·sin(b·k)``, ``[n, frames]`` (``wobble = (a, b)``)."""
    k = torch.arange(frames, dtype=torch.float32)
    amplitude, rate = wobble
    return theta0[:, None] + step * omega[:, None] * k + amplitude * torch.sin(rate * k)[None]


def batch_of(
    graph: Any,
    field: Tensor,
    spec: TaskSpec,
    *,
    node_ids: Tensor,
    encodings: Tensor,
    coords: Tensor,
    t0: float,
    parts: int = 4,
    coarse: str = "zeros",
    future: bool = False,
) -> Batch:
    """A Batch of ``field`` ``[n, ≥ lookback + horizon]``: history, target (and ``future``:
    every frame after the history); nodes assigned round-robin to ``parts`` supernodes with
    zero coarse targets (``coarse="zeros"``) or the system's coarse observables."""
    n, lookback, horizon = field.shape[0], spec.lookback, spec.horizon
    field = field.float()
    target = field[:, lookback : lookback + horizon].contiguous()
    assignment = torch.arange(n) % parts
    if coarse == "zeros":
        coarse_target = torch.zeros(parts, horizon, spec.coarse_channels)
    else:
        coarse_target = coarse_observables(target, assignment, parts, spec.system)
    return Batch(
        graph=graph,
        node_ids=node_ids,
        history=field[:, :lookback].contiguous(),
        target=target,
        t0=t0,
        frame_dt=spec.frame_dt,
        encodings=encodings,
        coords=coords,
        coarse_assignment=assignment,
        coarse_target=coarse_target,
        system=spec.system,
        encoding_sizes=spec.encoding_sizes,
        future=field[:, lookback:].contiguous() if future else None,
    )


def write_budget_card(tmp_path: Path, monkeypatch, name: str, budget: dict) -> dict:
    """A copy of km-tiny named ``name`` with ``budget``, found through ROMA_BENCH_TASKS."""
    import yaml

    from roma_bench.config import load_yaml
    from roma_bench.registry import task_card_path

    card = load_yaml(task_card_path("km-tiny"))
    card.update(name=name, budget=budget)
    (tmp_path / "cards").mkdir(exist_ok=True)
    (tmp_path / "cards" / f"{name}.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(tmp_path / "cards"))
    return card
