"""Issue 15, failure 4: graph parameters the generator cannot satisfy never hang."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from roma_bench.cards import load_card
from roma_bench.cli import main
from roma_bench.config import ConfigError
from roma_bench.graphs.hyperbolic import hyperbolic_graph

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nodes", "3"], "--avg-degree must be below nodes - 1 = 2"),
        (["--nodes", "2"], "--avg-degree must be below nodes - 1 = 1"),
        (["--nodes", "100", "--avg-degree", "500"], "--avg-degree must be below nodes - 1 = 99"),
        (["--nodes", "1000000000000"], "--nodes must be at most 1e+08"),
        (["--nodes", "100", "--gamma", "2.001"], "--gamma (power-law exponent) must be >= 2.01"),
    ],
)
@pytest.mark.timeout(30, method="thread")
def test_unsatisfiable_graph_is_refused_up_front(args, message, capsys):
    assert main(["graph", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"roma-bench graph: error: {message}")


@pytest.mark.timeout(60, method="thread")
def test_small_graphs_that_used_to_spin_in_networkit_are_built():
    """NetworKit's constructor spun forever at n = 5, k = 3; it now never searches a radius."""
    graph = hyperbolic_graph(5, avg_degree=3.0, seed=0)
    assert graph.num_nodes() == 5 and graph.num_edges() > 0
    again = hyperbolic_graph(5, avg_degree=3.0, seed=0)
    assert graph.edges()[0].tolist() == again.edges()[0].tolist()


@pytest.mark.timeout(30, method="thread")
def test_card_with_unsatisfiable_graph_is_rejected_naming_the_field(tmp_path):
    card = yaml.safe_load((ROOT / "tasks" / "km-tiny.yaml").read_text())
    card["graph"]["nodes"] = 3
    path = tmp_path / "three.yaml"
    path.write_text(yaml.safe_dump(card))
    with pytest.raises(ConfigError, match=r"graph: .*avg_degree must be below nodes - 1 = 2"):
        load_card(path)


@pytest.mark.slow  # ~15 s: a 3M-node build, interrupted
@pytest.mark.timeout(120, method="thread")
def test_graph_answers_ctrl_c(tmp_path):
    """SIGINT during a long graph build ends it with exit 130 and one line, promptly."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "roma_bench", "graph", "--nodes", "3000000"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(8)  # well into the first draw (imports take ~3 s)
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "roma-bench graph: interrupted"
    assert time.monotonic() - sent < 90
