"""Build the simulated system of a task card on its graph."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from roma_bench.config import ConfigError
from roma_bench.dynamics.kuramoto import KuramotoSystem
from roma_bench.dynamics.social import SocialSystem

if TYPE_CHECKING:
    from roma_bench.cards import TaskCard
    from roma_bench.graphs.backend import Graph

System = KuramotoSystem | SocialSystem


def _node_array(graph: Graph, key: str, card: TaskCard) -> np.ndarray:
    if key not in graph.ndata:
        raise ConfigError(
            f"task {card.name!r} ({card.system}): the graph has no node data {key!r} "
            f"(has {sorted(graph.ndata.keys())})"
        )
    return graph.ndata[key].detach().cpu().numpy()


def build_system(card: TaskCard, graph: Graph) -> System:
    """The card's system on ``graph`` (bidirected edges; ndata ``'radius'`` / ``'community'``).

    ``total_time = card.simulation.dt · card.simulation.steps`` and
    ``seed = card.simulation.seed``. Raises :class:`ConfigError` naming
    ``simulation.dt`` when the step exceeds the system's ``max_stable_dt()``.
    """
    src, dst = (e.detach().cpu().numpy() for e in graph.edges())
    num_nodes = graph.num_nodes()
    sim = card.simulation
    total_time = sim.dt * sim.steps
    system: System
    if card.system == "kuramoto":
        assert card.kuramoto is not None
        communities = graph.ndata["community"].numpy() if "community" in graph.ndata else None
        if card.kuramoto.community_coupling > 0:
            communities = _node_array(graph, "community", card)
        system = KuramotoSystem(
            src, dst, num_nodes, card.kuramoto, total_time, sim.seed, communities=communities
        )
    elif card.system == "social":
        assert card.social is not None
        radius = _node_array(graph, "radius", card)
        system = SocialSystem(src, dst, num_nodes, radius, card.social, total_time, sim.seed)
    else:  # pragma: no cover - the card schema forbids it
        raise ConfigError(f"task {card.name!r}: unknown system {card.system!r}")
    limit = system.max_stable_dt()
    if sim.dt > limit:
        raise ConfigError(
            f"task {card.name!r}: simulation.dt = {sim.dt} exceeds the stable step "
            f"{limit:.4g} of the {card.system} system with these parameters"
        )
    return system
