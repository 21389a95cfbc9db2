"""Headroom per card: the floors on the test split, as a library call and ``verify --floors``."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from roma_bench.cli import main
from roma_bench.training.headroom import FLOORS, floor_scores


def test_km_tiny_floors_from_the_cli(km_tiny_store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    assert main(["verify", "--floors", "km-tiny", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["task"] == "km-tiny" and report["split"] == "test"
    assert report["primary"] == "delta_nrmse"
    floors = report["floors"]
    assert list(floors) == list(FLOORS)
    columns = {"delta_nrmse", "smspe", "nrmse", "rollout_nrmse_h1", "rollout_nrmse_h4",
               "rollout_nrmse_h16", "ratio_to_persistence"}  # fmt: skip
    assert all(set(row) == columns for row in floors.values())
    # persistence predicts no change: its delta_nrmse is 1 (up to ε), the reference of the ratios
    assert floors["persistence"]["delta_nrmse"] == pytest.approx(1.0, rel=1e-4)
    for row in floors.values():
        expected = row["delta_nrmse"] / floors["persistence"]["delta_nrmse"]
        assert row["ratio_to_persistence"] == pytest.approx(expected)
    # km-tiny's phases are smooth: each floor is far better than the one before
    ratios = [floors[m]["ratio_to_persistence"] for m in FLOORS]
    assert ratios == sorted(ratios, reverse=True)
    assert floors["ar"]["ratio_to_persistence"] < 0.5 * floors["linear"]["ratio_to_persistence"]
    assert floors["oracle"]["delta_nrmse"] < 1e-3

    assert main(["verify", "--floors", "km-tiny", "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "| floor | delta_nrmse (primary) | smspe | nrmse |" in table
    assert "| persistence | 1 |" in table and "ROMA paper's metric" in table


def test_floors_cli_errors_are_one_line(capsys) -> None:
    assert main(["verify", "--floors", "no-such-task"]) == 2
    assert capsys.readouterr().err.startswith(
        "roma-bench verify: error: unknown task 'no-such-task'; known tasks:"
    )
    assert main(["verify", "data/x.h5", "--json"]) == 2
    assert "--json and --split go with --floors" in capsys.readouterr().err


@pytest.mark.slow
def test_bd_tiny_has_headroom(tmp_path) -> None:
    """Issue 10's acceptance on bd-tiny's test windows (nRMSE): the oracle is far below
    persistence and ``ar``, ``ar`` beats persistence, linear extrapolation is not the oracle."""
    from roma_bench.cards import load_card
    from roma_bench.data.generation import generate_task

    path = generate_task(load_card("bd-tiny"), tmp_path / "bd-tiny.h5", progress=False)
    headroom = floor_scores("bd-tiny", data_path=path)
    nrmse = {m: headroom.scores[m]["nrmse"] for m in FLOORS}
    assert all(math.isfinite(v) for v in nrmse.values()), nrmse
    assert nrmse["oracle"] <= 0.3 * nrmse["persistence"], nrmse
    assert nrmse["oracle"] <= 0.5 * nrmse["ar"], nrmse
    assert nrmse["ar"] <= 0.8 * nrmse["persistence"], nrmse
    assert nrmse["linear"] > 1.1 * nrmse["oracle"], nrmse


def test_the_km_tiny_boards_floor_rows_are_what_verify_floors_gives(km_tiny_store) -> None:
    """tasks/README.md's floor tables are the boards' floor rows; they must be the numbers
    `verify --floors` computes from the store (same evaluator, same test windows)."""
    board = Path(__file__).resolve().parents[2] / "leaderboards" / "km-tiny.csv"
    with board.open(newline="") as handle:
        rows = {r["model"]: r for r in csv.DictReader(handle) if r["learning_task"] == "forecast"}
    headroom = floor_scores("km-tiny", data_path=km_tiny_store)
    if headroom.checksum != rows["persistence"]["data_checksum"]:
        pytest.skip(f"this machine generated km-tiny {headroom.checksum[:12]}…, the board "
                    f"{rows['persistence']['data_checksum'][:12]}…")  # fmt: skip
    for model in FLOORS:
        for metric in headroom.columns():
            board_value = float(rows[model][f"{metric}_mean"])
            # the CSV keeps 6 significant digits; the oracle's errors are ~1e-14 … 1e-6
            assert headroom.scores[model][metric] == pytest.approx(board_value, rel=1e-4, abs=1e-12)
