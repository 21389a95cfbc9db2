"""Per-run result files: written by every leaderboard run, equal to MLflow, aggregated by boards."""

from __future__ import annotations

import csv
import dataclasses
import json
import threading

import harness_doubles as doubles
import mlflow
import pytest

from roma_bench.board_files import to_markdown
from roma_bench.cli import main
from roma_bench.leaderboard import RunRecord, build_leaderboard
from roma_bench.results import read_results, results_dir, write_result


@pytest.fixture
def syn_tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(tmp_path / "default-boards"))
    return doubles.install_synthetic_card(tmp_path, monkeypatch)


def _board_run(store: str, out) -> int:
    return main([
        "leaderboard", "run", "--task", "syn-tiny", "--models", "harness-linear", "--seeds", "2",
        "--steps", "3", "--tracking-uri", store, "--out", str(out), "--set", "plots=false",
        "--set", "val_every=3", "--quiet", "--device", "cpu",
    ])  # fmt: skip


def test_result_files_equal_mlflow_and_a_rerun_skips_finished(syn_tiny, tmp_path):
    out = tmp_path / "lb"
    assert _board_run(syn_tiny, out) == 0
    folder = results_dir("syn-tiny", out)
    files = sorted(folder.glob("*.json"))
    assert len(files) == 2
    client = mlflow.MlflowClient(syn_tiny)
    experiment = client.get_experiment_by_name("syn-tiny").experiment_id
    runs = {r.info.run_id: r for r in client.search_runs([experiment])}
    for path in files:
        data = json.loads(path.read_text())
        run = runs[data["run_id"]]
        tracked = {k[5:]: v for k, v in run.data.metrics.items() if k.startswith("test_")}
        assert data["metrics"] == tracked and len(tracked) >= 8
        assert data["status"] == "FINISHED" and data["steps"] == 3 and data["task"] == "syn-tiny"
        assert data["model"] == "harness-linear" and data["size"] == "tiny"
        assert data["data_checksum"] == "synthetic-checksum" and data["task_version"] == "1.0"
        assert data["num_parameters"] == int(run.data.tags["roma.num_parameters"])
        assert data["code_commit"] == run.data.tags["git_commit"]
        assert data["command"] == run.data.tags["roma.command"] and data["command"]
        assert data["verified"] is True and data["external"] is False
    assert sorted(json.loads(p.read_text())["seed"] for p in files) == [0, 1]
    assert not (tmp_path / "default-boards").exists()  # --out holds the board and its runs

    assert _board_run(syn_tiny, out) == 0  # resume: both seeds are finished, nothing trains
    assert len(client.search_runs([experiment])) == 2
    assert sorted(folder.glob("*.json")) == files
    rows = list(csv.DictReader((out / "syn-tiny.csv").open()))
    assert [(r["model"], r["seeds"], r["seed_list"]) for r in rows] == [
        ("harness-linear", "2", "0 1")
    ]

    client.delete_run(next(iter(runs)))  # the board is rebuilt from the files, not from MLflow
    assert main(["leaderboard", "show", "--task", "syn-tiny", "--tracking-uri", syn_tiny,
                 "--out", str(out)]) == 0  # fmt: skip
    rows = list(csv.DictReader((out / "syn-tiny.csv").open()))
    assert rows[0]["seeds"] == "2"


def _record(seed: int, smspe: float, **changes) -> RunRecord:
    base = RunRecord(
        run_id=f"run{seed}", model="roma", size="tiny", seed=seed, learning_task="forecast",
        task_version="1.0", data_checksum="abc", status="FINISHED", start_time=seed,
        num_parameters=10, train_time=1.0, peak_memory_mb=5.0, hardware="cpu", command="c",
        steps=3, metrics={"smspe": smspe, "delta_nrmse": smspe},
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_two_runs_finishing_at_once_both_land(tmp_path):
    records = [_record(seed, 0.1 * (seed + 1)) for seed in range(8)]
    start = threading.Barrier(len(records))

    def finish(record: RunRecord) -> None:
        start.wait()
        write_result(record, "km-tiny", tmp_path)

    threads = [threading.Thread(target=finish, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(read_results(tmp_path), key=lambda r: r.seed) == records
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_unverified_rows_are_shown_never_ranked(tmp_path):
    records = [_record(0, 0.5), _record(1, 0.4, model="claimed", run_id="x", verified=False)]
    board = build_leaderboard("km-tiny", records, primary={"forecast": "delta_nrmse"})
    ranks = {r["model"]: r["rank"] for r in board.rows}
    assert ranks == {"roma": 1, "claimed": ""}  # lower error, but unverified: not ranked
    assert "| unverified | claimed |" in to_markdown(board, "files")
