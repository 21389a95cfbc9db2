"""``roma-bench quickstart`` (the README's main job) end to end on a real km-tiny store."""

from __future__ import annotations

import json

import mlflow

from roma_bench.cli import main


def test_quickstart_trains_scores_and_prints_the_board(
    km_tiny_store, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main(["quickstart", "--models", "persistence,gcn", "--steps", "3", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "persistence" in out and "gcn" in out and "| rank" in out.lower()
    files = sorted(
        (tmp_path / "runs" / "quickstart" / "km-tiny-quickstart" / "runs").glob("*.json")
    )
    records = [json.loads(p.read_text()) for p in files]
    assert sorted(r["model"] for r in records) == ["gcn", "persistence"]
    assert all(r["status"] == "FINISHED" and r["steps"] == 3 and r["metrics"] for r in records)
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'runs' / 'mlflow.db'}")
    for record in records:  # each run is in the local store, tagged for the quick-start board
        tags = client.get_run(record["run_id"]).data.tags
        assert tags["roma.leaderboard"] == "km-tiny-quickstart"
