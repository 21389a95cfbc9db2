"""Finished board runs become budget-check rows (roma_bench.budget_board): scored, not
retrained, when they trained exactly like a check run. Fake runs and result files."""

from __future__ import annotations

from budget_doubles import curve_score, fake_run

from roma_bench import budget_board, budgets
from roma_bench.budget_records import done_keys
from roma_bench.budgets import Budget


def test_board_runs_that_match_the_budget_become_check_rows(tmp_path, monkeypatch):
    """A finished board run trained exactly like a check run at B is scored, not retrained;
    one at another rate, with early stopping, validated at another interval (its best
    checkpoint is picked among other points), or without its checkpoint is not."""
    from roma_bench.leaderboard import RunRecord
    from roma_bench.results import results_dir, write_result
    from roma_bench.training import checkpointing

    budget, lrs = Budget(100, 1e-3, 5), {"gcn": 3e-3}
    configs = {}
    for seed, lr, patience, keep, every in ((0, 3e-3, None, True, 5), (1, 3e-3, None, True, 5),
                                            (2, 1e-2, None, True, 5), (3, 3e-3, 4, True, 5),
                                            (4, 3e-3, None, False, 5), (5, 3e-3, None, True, 50)):  # fmt: skip
        run_id = f"run{seed}"
        config = budgets.budget_config("km-tiny", "gcn", budget, seed, lr)
        assert config.val_every == 5  # B / VALIDATIONS_PER_RUN
        configs[run_id] = config.model_copy(
            update={"early_stopping_patience": patience, "val_every": every}
        )
        record = RunRecord(run_id, "gcn", "tiny", seed, "forecast", "2.0", "", "FINISHED", 0,
                           10, 1.0, 1.0, "cpu", "cmd", steps=100, metrics={"nrmse": 0.1})  # fmt: skip
        write_result(record, "km-tiny", results_dir("km-tiny", tmp_path))
        if keep:
            (tmp_path / "runs" / "train" / run_id).mkdir(parents=True)
            (tmp_path / "runs" / "train" / run_id / checkpointing.MODEL_FILE).touch()
    monkeypatch.setattr(
        checkpointing, "read_checkpoint_extra",
        lambda path: {"train_config": configs[path.parent.name].model_dump(mode="json")},
    )  # fmt: skip
    scored: list = []

    def score(checkpoint, config):
        scored.append(config.seed)
        return 0.5 + config.seed

    rows = budget_board.board_rows("km-tiny", ["gcn"], budget, lrs, score, folder=tmp_path,
                              runs_root=tmp_path / "runs")  # fmt: skip
    assert rows == [
        {"model": "gcn", "steps": 100, "warmup_steps": 5, "seed": s, "lr": 3e-3, "val_metric": 0.5 + s} for s in (0, 1)
    ]  # fmt: skip
    # recorded rows are not scored again, and the check then trains only what is missing
    done = done_keys(rows)
    assert budget_board.board_rows("km-tiny", ["gcn"], budget, lrs, score, done=done,
                              folder=tmp_path, runs_root=tmp_path / "runs") == []  # fmt: skip
    log: list = []
    budgets.doubling_runs("km-tiny", ["gcn"], [0, 1], budget, fake_run(log),
                          curve_score({"gcn": 1}), lrs=lrs, done=done)  # fmt: skip
    assert [(c.steps, c.seed) for c in log] == [(200, 0), (200, 1)]
