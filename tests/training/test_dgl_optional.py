"""The DGL-optional path (issue 13): models, baselines, training and evaluation without DGL.

``import dgl`` is made to fail in a child process (a meta-path hook raises ImportError, as
a current torch does with DGL 2.1's wheels), which then imports every model, trains gcn and
roma (tiny) for a few steps on km-tiny and evaluates them. Where DGL loads in this process,
the checkpoints written without DGL load into the DGL-built models and give the same
numbers (the torch twins keep the ``dgl.nn`` parameter names).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from roma_bench.graphs import backend as graph_backend
from roma_bench.training.loop import seed_everything

ROOT = Path(__file__).resolve().parents[2]

#: Put first in a child program: from then on `import dgl` (and `import dgl.*`) raises.
BLOCK_DGL = '''
import sys

class _NoDGL:
    """Meta-path hook: DGL cannot be imported (as with a current torch)."""

    def find_spec(self, name, path=None, target=None):
        if name == "dgl" or name.startswith("dgl."):
            raise ImportError(f"No module named {name!r} (blocked: DGL-optional test)")
        return None

sys.meta_path.insert(0, _NoDGL())
'''

PROGRAM = """
import json
from pathlib import Path

import torch

import baselines  # noqa: F401
import roma_bench.models  # noqa: F401
from baselines.gnn import TorchGraphConv
from roma_bench.graphs import backend, metis_partition
from roma_bench.models.base import load_checkpoint
from roma_bench.registry import available_models
from roma_bench.training.config import TrainConfig
from roma_bench.training.evaluate import evaluate_checkpoint
from roma_bench.training.fit import train

assert not backend.HAVE_DGL and "dgl" not in sys.modules
out = Path(sys.argv[1])
report = {"models": available_models(), "runs": {}}
for name in ("gcn", "roma"):
    config = TrainConfig(
        model_name=name, task="km-tiny", seed=7, steps=3, val_every=3, checkpoint_every=3,
        device="cpu", amp=False, plots=False,
    )
    result = train(config, tracking_uri=f"sqlite:///{out / 'mlflow.db'}", progress=False,
                   out_dir=out / name)
    scores = evaluate_checkpoint(result.checkpoint)
    if name == "gcn":  # the torch twins of the dgl.nn layers
        assert isinstance(load_checkpoint(result.checkpoint)[0].layers[0].conv, TorchGraphConv)
    report["runs"][name] = {
        "status": result.status, "steps": result.steps_done, "checkpoint": str(result.checkpoint),
        "smspe": result.metrics["smspe"], "again": scores["smspe"],
    }
try:
    metis_partition(backend.make_graph(torch.tensor([0, 1]), torch.tensor([1, 0]), 2), 2)
except backend.DGLMissingError as error:
    report["metis"] = str(error)
report["dgl_imported"] = "dgl" in sys.modules
print("REPORT " + json.dumps(report))
"""


def run_without_dgl(program: str, *args: str, env: dict[str, str] | None = None):
    """Run ``program`` in a child Python where ``import dgl`` raises ImportError."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", BLOCK_DGL + program, *args],
        capture_output=True, text=True, env=env, timeout=900, cwd=ROOT,
    )  # fmt: skip


def test_seed_everything_without_dgl_seeds_torch_and_numpy(monkeypatch):
    monkeypatch.setattr(graph_backend, "dgl", None)  # as where `import dgl` fails
    seed_everything(7)
    drawn = torch.rand(3), np.random.rand(3)
    torch.manual_seed(7)
    np.random.seed(7)
    assert torch.equal(drawn[0], torch.rand(3)) and np.array_equal(drawn[1], np.random.rand(3))


def test_require_dgl_names_what_needs_it(monkeypatch):
    monkeypatch.setattr(graph_backend, "dgl", None)
    with pytest.raises(graph_backend.DGLMissingError, match="METIS partitioning needs DGL"):
        graph_backend.require_dgl("METIS partitioning")


def test_models_train_and_evaluate_without_dgl(km_tiny_store, tmp_path, monkeypatch):
    done = run_without_dgl(
        PROGRAM, str(tmp_path),
        env={"ROMA_BENCH_DATA": str(km_tiny_store.parent), "ROMA_BENCH_RUNS": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("REPORT "))
    report = json.loads(line.removeprefix("REPORT "))
    assert {"gcn", "gat", "mpnn", "roma", "fno"} <= set(report["models"])
    for name, run in report["runs"].items():
        assert run["status"] == "FINISHED" and run["steps"] == 3, name
        assert np.isfinite(run["smspe"]) and run["again"] == pytest.approx(run["smspe"], rel=1e-5)
    assert "METIS partitioning" in report["metis"] and "needs DGL" in report["metis"]
    assert not report["dgl_imported"]
    if not graph_backend.HAVE_DGL:
        return
    # DGL loads here: the checkpoints written without it load into the DGL-built models
    from roma_bench.training.evaluate import evaluate_checkpoint

    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))

    for name, run in report["runs"].items():
        scores = evaluate_checkpoint(run["checkpoint"])
        assert scores["smspe"] == pytest.approx(run["smspe"], rel=1e-4), name
