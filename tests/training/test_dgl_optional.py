"""Training helpers that must not need DGL (the DGL-optional path of issue 13)."""

from __future__ import annotations

import sys

import numpy as np
import torch

from roma_bench.training.loop import seed_everything


def test_seed_everything_without_dgl_seeds_torch_and_numpy(monkeypatch):
    monkeypatch.setitem(sys.modules, "dgl", None)  # `import dgl` now raises ImportError
    seed_everything(7)
    drawn = torch.rand(3), np.random.rand(3)
    torch.manual_seed(7)
    np.random.seed(7)
    assert torch.equal(drawn[0], torch.rand(3)) and np.array_equal(drawn[1], np.random.rand(3))
