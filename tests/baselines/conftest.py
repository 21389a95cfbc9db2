"""Fixtures of the baseline tests, and making ``import baselines`` find the real package.

``tests/`` is on ``sys.path`` during a pytest run (rootdir conftest, prepend import mode),
so without the repository root on the path ``import baselines`` resolves to this folder as
a namespace package, and the ``roma_bench.models`` entry point ``baselines`` then registers
nothing. A regular package anywhere on ``sys.path`` wins over a namespace portion, so adding
the repository root is enough. (Project-wide fix: ``pythonpath = ["."]`` in the pytest options.)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.append(_REPO)
_loaded = sys.modules.get("baselines")
if _loaded is not None and getattr(_loaded, "__file__", None) is None:  # the namespace impostor
    del sys.modules["baselines"]
    from roma_bench import registry

    registry._loaded = False


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run these small models on one thread: on a shared 2-core machine, more threads thrash."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
