"""Small task cards for the data tests (a few hundred nodes, a couple of hundred frames)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from roma_bench.config import deep_update


def micro_card_data(name: str = "micro", system: str = "kuramoto", **overrides: Any) -> dict:
    """A card of 400 nodes and 101 frames (4 blocks of 32 frames): generates in about a second."""
    data = {
        "name": name,
        "version": "0.1",
        "system": system,
        "graph": {"nodes": 400, "avg_degree": 3.0, "seed": 3},
        "simulation": {"dt": 0.02, "steps": 200, "save_every": 2, "seed": 5},
        "window": {"lookback": 8, "horizon": 2, "rollout": 6, "eval_windows": 4},
        "split": {"val_nodes": 32, "test_nodes": 48, "seed": 1},
        "batch": {"nodes": 64, "walk_length": 8},
        "encodings": {"laplacian": 4, "random_walk": 4},
    }
    if system == "social":  # the social card's stable step is below 0.02 (same 101 frames)
        data["simulation"] = {"dt": 0.01, "steps": 400, "save_every": 4, "seed": 5}
    return deep_update(data, overrides)


def write_card(folder: Path, data: dict) -> Path:
    """Write ``data`` as ``<folder>/<name>.yaml`` and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
