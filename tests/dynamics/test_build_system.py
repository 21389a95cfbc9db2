"""build_system: a task card and a DGL graph give the right system, or a named error."""

from __future__ import annotations

import dgl
import numpy as np
import pytest
import torch

from roma_bench.cards import TaskCard
from roma_bench.config import ConfigError
from roma_bench.dynamics.kuramoto import KuramotoSystem
from roma_bench.dynamics.social import SocialSystem
from roma_bench.dynamics.systems import build_system


def card(system: str, dt: float = 0.01, **section: object) -> TaskCard:
    data = {
        "name": f"t-{system}",
        "version": "1",
        "system": system,
        "graph": {"nodes": 30},
        "simulation": {"dt": dt, "steps": 400, "save_every": 10, "seed": 7},
        "window": {"lookback": 4, "horizon": 1, "rollout": 4},
        "split": {"val_nodes": 4, "test_nodes": 4},
        "batch": {"nodes": 8},
    }
    if section:
        data[system] = section
    return TaskCard.model_validate(data)


def ring_graph(n: int = 30, with_data: bool = True) -> dgl.DGLGraph:
    a = torch.arange(n)
    b = (a + 1) % n
    graph = dgl.graph((torch.cat([a, b]), torch.cat([b, a])), num_nodes=n)
    if with_data:
        graph.ndata["radius"] = torch.linspace(1.0, 5.0, n, dtype=torch.float64)
        graph.ndata["angle"] = torch.zeros(n, dtype=torch.float64)
        graph.ndata["community"] = a // 10
    return graph


def test_builds_kuramoto_with_card_seed_and_time() -> None:
    task = card("kuramoto", community_coupling=0.5)
    system = build_system(task, ring_graph())
    assert isinstance(system, KuramotoSystem)
    assert system.total_time == pytest.approx(4.0)
    direct = KuramotoSystem(
        *(e.numpy() for e in ring_graph().edges()),
        30,
        task.kuramoto,
        4.0,
        seed=7,
        communities=np.arange(30) // 10,
    )
    np.testing.assert_array_equal(system.initial_state(), direct.initial_state())
    np.testing.assert_array_equal(
        system.rhs(1.0, direct.initial_state()), direct.rhs(1.0, direct.initial_state())
    )


def test_builds_social_from_radius() -> None:
    system = build_system(card("social"), ring_graph())
    assert isinstance(system, SocialSystem)
    assert system.name == "social"
    assert system.initial_state().shape == (30,)


def test_missing_node_data_is_named() -> None:
    with pytest.raises(ConfigError, match="'radius'"):
        build_system(card("social"), ring_graph(with_data=False))
    with pytest.raises(ConfigError, match="'community'"):
        build_system(card("kuramoto", community_coupling=1.0), ring_graph(with_data=False))


def test_unstable_step_is_rejected_naming_dt() -> None:
    with pytest.raises(ConfigError, match=r"simulation\.dt = 0\.5 exceeds"):
        build_system(card("social", dt=0.5), ring_graph())
    with pytest.raises(ConfigError, match=r"simulation\.dt"):
        build_system(card("kuramoto", dt=0.2), ring_graph())
