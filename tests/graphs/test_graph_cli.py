"""``roma-bench graph``."""

from __future__ import annotations

import json

import pytest

from roma_bench.cli import main


def test_graph_json_prints_the_statistics(capsys):
    assert main(["graph", "--nodes", "1500", "--gamma", "2.6", "--seed", "1", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    expected = {
        "nodes",
        "edges",
        "mean_degree",
        "gamma",
        "communities",
        "modularity",
        "seconds",
        "peak_mb",
    }
    assert expected <= set(stats)
    assert abs(stats["nodes"] - 1500) <= 30
    assert stats["mean_degree"] == pytest.approx(2 * stats["edges"] / stats["nodes"])
    assert stats["seconds"] > 0 and stats["peak_mb"] > 0


def test_graph_text_output(capsys):
    assert main(["graph", "--nodes", "800", "--gamma", "2.6"]) == 0
    out = capsys.readouterr().out
    assert "nodes        8" in out and "modularity" in out


@pytest.mark.parametrize(
    "args, named",
    [
        (["--nodes", "0"], "--nodes"),
        (["--nodes", "-3"], "--nodes"),
        (["--nodes", "100", "--gamma", "2"], "--gamma"),
        (["--nodes", "100", "--gamma", "1.5"], "--gamma"),
        (["--nodes", "100", "--avg-degree", "0"], "--avg-degree"),
        (["--nodes", "100", "--temperature", "1"], "--temperature"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, named, capsys):
    assert main(["graph", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"roma-bench graph: error: {named} ")
