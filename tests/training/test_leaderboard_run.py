"""``roma-bench leaderboard run`` end to end: trains each (model, seed), then writes the table."""

from __future__ import annotations

import csv
import statistics

import harness_doubles as doubles
import mlflow

from roma_bench.cli import main


def test_leaderboard_run_two_models_two_seeds(tmp_path, monkeypatch, capsys):
    store = doubles.install_synthetic_card(tmp_path, monkeypatch)
    code = main([
        "leaderboard", "run", "--task", "syn-tiny", "--models", "harness-linear,harness-persistence",
        "--seeds", "2", "--steps", "3", "--tracking-uri", store, "--out", str(tmp_path / "lb"),
        "--set", "plots=false", "--set", "val_every=3", "--quiet", "--device", "cpu",
    ])  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((tmp_path / "lb" / "syn-tiny.csv").open()))
    assert sorted((r["model"], r["seeds"], r["seed_list"]) for r in rows) == [
        ("harness-linear", "2", "0 1"),
        ("harness-persistence", "2", "0 1"),
    ]
    runs = mlflow.MlflowClient(store).search_runs(
        [mlflow.MlflowClient(store).get_experiment_by_name("syn-tiny").experiment_id]
    )
    linear = [
        r.data.metrics["test_smspe"] for r in runs if r.data.tags["roma.model"] == "harness-linear"
    ]
    row = next(r for r in rows if r["model"] == "harness-linear")
    assert float(row["smspe_mean"]) == float(f"{statistics.mean(linear):.6g}")
    assert float(row["smspe_std"]) == float(f"{statistics.stdev(linear):.6g}")
    assert row["command"] == (
        "roma-bench leaderboard run --task syn-tiny --models harness-linear,harness-persistence "
        "--sizes tiny --seeds 2 --steps 3 --set plots=false --set val_every=3"
    )
    assert "| harness-" in capsys.readouterr().out
