"""Check and tuning rows are recorded run by run (roma_bench.budget_records through
roma_bench.budgets): a crash loses nothing, a rerun skips what is recorded, shards and
concurrent processes share one table. Fake runs, no training."""

from __future__ import annotations

import pytest
from budget_doubles import curve_score, fake_run

from roma_bench import budgets
from roma_bench.budget_records import done_keys
from roma_bench.budgets import Budget


def test_runs_are_recorded_one_by_one_and_a_rerun_skips_them(tmp_path):
    """A crash after k runs loses nothing: each row reaches the file before the next run,
    and the rerun trains only what is missing."""
    log: list = []
    budget = Budget(100, 1e-3, 5)

    def crash_on_third(config):
        if len(log) == 2:
            raise KeyboardInterrupt
        return fake_run(log)(config)

    def record(row):
        budgets.record_check_rows("km-tiny", [row], tmp_path)

    with pytest.raises(KeyboardInterrupt):
        budgets.doubling_runs("km-tiny", ["gcn"], [0, 1], budget, crash_on_third,
                              curve_score({"gcn": 1}), on_row=record)  # fmt: skip
    recorded = budgets.check_rows("km-tiny", tmp_path)
    assert [(r["steps"], r["seed"]) for r in recorded] == [(100, 0), (100, 1)]
    log.clear()
    budgets.doubling_runs(
        "km-tiny", ["gcn"], [0, 1], budget, fake_run(log), curve_score({"gcn": 1}),
        done=done_keys(recorded), on_row=record,
    )  # fmt: skip
    assert [(c.steps, c.seed) for c in log] == [(200, 0), (200, 1)]
    assert len(budgets.check_rows("km-tiny", tmp_path)) == 4


def test_shards_split_the_runs_and_share_one_table(tmp_path):
    budget, plateau = Budget(100, 1e-3, 5), curve_score({"gcn": 1, "roma": 2})
    logs: list[list] = [[], [], []]
    for i, log in enumerate(logs, 1):
        budgets.tune_learning_rates(
            "km-tiny", ["gcn", "roma"], budget, fake_run(log), plateau, shard=(i, 3),
            on_row=lambda row: budgets.write_tuning("km-tiny", [row], tmp_path),
        )  # fmt: skip
    trained = [(c.model_name, c.optim.lr) for log in logs for c in log]
    assert sorted(trained) == sorted(
        (m, lr) for m in ("gcn", "roma") for lr in budgets.LEARNING_RATES
    )
    assert sorted(len(log) for log in logs) == sorted(
        len(range(i, 2 * len(budgets.LEARNING_RATES), 3)) for i in range(3)
    )
    rows = budgets.tuning_rows("km-tiny", tmp_path)
    assert len(rows) == 2 * len(budgets.LEARNING_RATES)
    assert sum(r["chosen"] for r in rows) == 2  # one per model
    with pytest.raises(ValueError, match="shard 4/3"):
        budgets.run_plan([], fake_run([]), plateau, shard=(4, 3))


def test_concurrent_writers_keep_every_row(tmp_path):
    """Rows merged by several processes at once all reach the table (the file lock)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        pool.starmap(_write_rows, [(tmp_path, seed) for seed in range(6)])
    rows = budgets.check_rows("km-tiny", tmp_path)
    assert sorted((r["seed"], r["steps"]) for r in rows) == [
        (seed, steps) for seed in range(6) for steps in range(1, 11)
    ]


def _write_rows(folder, seed):
    for steps in range(1, 11):
        row = {
            "model": "gcn",
            "steps": steps,
            "warmup_steps": 0,
            "seed": seed,
            "lr": 1e-3,
            "val_metric": 0.5,
        }
        budgets.record_check_rows("km-tiny", [row], folder)
