"""Standard budgets and equal tuning (roma_bench.budgets), without training: fake runs."""

from __future__ import annotations

import argparse
import math
import sys

import pytest
from budget_doubles import curve_score, fake_run
from kit import write_budget_card

from roma_bench import budget_pages, budgets
from roma_bench.budgets import Budget, first_converged
from roma_bench.cards import BudgetCard, load_card
from roma_bench.cli.budget import _budget as budget_cli_budget
from roma_bench.config import ConfigError


def test_doubling_doubles_steps_and_warmup_with_early_stopping_off():
    log: list = []
    rows = budgets.doubling_runs(
        "km-tiny", ["gcn"], [0, 1], Budget(100, 2e-3, 10), fake_run(log), curve_score({"gcn": 1})
    )
    assert [(c.steps, c.optim.warmup_steps, c.seed) for c in log] == [
        (100, 10, 0), (100, 10, 1), (200, 20, 0), (200, 20, 1)
    ]  # fmt: skip
    assert all(c.early_stopping_patience is None and not c.evaluate_test for c in log)
    assert all(c.optim.lr == 2e-3 for c in log)
    assert len(rows) == 4 and {r["steps"] for r in rows} == {100, 200}


def test_verdicts_say_which_model_converged():
    # gcn: 1 + 1/B → 1 + 1/2B improves 0.5 % (converged); roma: 0.01 + 1/B improves ~50 %.
    rows = budgets.doubling_runs(
        "km-tiny", ["gcn", "roma"], [0, 1, 2], Budget(100, 1e-3, 5), fake_run([]),
        curve_score({"gcn": 1.0, "roma": 0.01}),
    )  # fmt: skip
    verdicts = {v["model"]: v for v in budgets.doubling_verdicts(rows)}
    assert verdicts["gcn"]["converged"] and not verdicts["roma"]["converged"]
    assert verdicts["gcn"]["improvement"] == pytest.approx(1 - 1.005 / 1.01)
    assert verdicts["roma"]["mean_b"] == pytest.approx(0.02)


def test_tuning_tries_every_rate_once_and_picks_the_lowest_validation_error(tmp_path):
    log: list = []

    def score(checkpoint, config):  # best rate 1e-3 for gcn, 3e-3 for roma; NaN never wins
        best = {"gcn": 1e-3, "roma": 3e-3}[config.model_name]
        return float("nan") if config.optim.lr == 3e-4 else abs(config.optim.lr - best)

    rows = budgets.tune_learning_rates(
        "km-tiny", ["gcn", "roma"], Budget(50, 1e-3, 5), fake_run(log), score, seed=4
    )
    assert [(c.model_name, c.optim.lr) for c in log] == [
        (m, lr) for m in ("gcn", "roma") for lr in budgets.LEARNING_RATES
    ]
    assert all(c.seed == 4 and c.steps == 50 for c in log)
    budgets.write_tuning("km-tiny", rows, tmp_path)
    assert budgets.tuned_learning_rates("km-tiny", tmp_path) == {"gcn": 1e-3, "roma": 3e-3}
    assert budgets.tuned_learning_rates("bd-tiny", tmp_path) == {}


def test_a_broken_tuning_file_is_named(tmp_path):
    path = budgets.tuning_path("km-tiny", tmp_path)
    path.write_text("model,lr,steps,seed,val_metric\ngcn,0.001,100,0,0.5\n")
    with pytest.raises(ConfigError, match=r"km-tiny.tuning.csv: missing column\(s\) chosen"):
        budgets.tuned_learning_rates("km-tiny", tmp_path)
    path.write_text("model,lr,steps,seed,val_metric,chosen\ngcn,0.001,100,0,0.5,True\n")
    with pytest.raises(
        ConfigError, match=r"missing column\(s\) warmup_steps \(a table from before"
    ):
        budgets.tuned_learning_rates("km-tiny", tmp_path)
    path.write_text(
        "model,lr,steps,warmup_steps,seed,val_metric,chosen\ngcn,fast,100,5,0,0.5,True\n"
    )
    with pytest.raises(ConfigError, match=r"km-tiny.tuning.csv, line 2: .*'fast'"):
        budgets.tuned_learning_rates("km-tiny", tmp_path)


def test_the_card_budget_is_validated_and_is_not_part_of_the_data():
    card = load_card("km-tiny")
    with_budget = card.model_copy(update={"budget": BudgetCard(steps=400, lr=3e-3)})
    assert with_budget.resolved() == card.resolved()  # a budget never makes a store stale
    assert Budget.of_card(with_budget) == Budget(400, 3e-3, 20)
    with pytest.raises(ValueError, match="warmup_steps 50 must be below steps 50"):
        BudgetCard(steps=50, warmup_steps=50)
    with pytest.raises(ConfigError, match="has no budget section"):
        Budget.of_card(card.model_copy(update={"budget": None}))


def test_budget_check_command_trains_and_scores_for_real(km_tiny_store, tmp_path, monkeypatch):
    """`roma-bench budget check` end to end: real runs at B = 4 and 2B = 8, one seed."""
    from roma_bench.cli import main

    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(tmp_path / "boards"))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    code = main(
        ["budget", "check", "km-tiny", "--models", "gcn", "--steps", "4", "--warmup-steps",
         "1", "--seeds", "0", "--quiet",
         "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]
    )  # fmt: skip
    assert code == 0
    rows = (tmp_path / "boards" / "budgets" / "km-tiny.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("gcn,4,1,0,") and rows[2].startswith("gcn,8,2,0,")
    assert all(0 < float(r.split(",")[-1]) < 10 for r in rows[1:])


def test_budget_check_records_the_budget_it_resolved(km_tiny_store, tmp_path, monkeypatch):
    """A check run on the card's defaults records ``--steps``/``--warmup-steps`` explicitly,
    so its command still reproduces its rows after the card's budget moves."""
    from roma_bench.cli import main

    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(tmp_path / "boards"))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    write_budget_card(tmp_path, monkeypatch, "km-short", {"steps": 3, "warmup_steps": 1})
    args = ["budget", "check", "km-short", "--models", "gcn", "--seeds", "0", "--quiet",
            "--no-board", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", ["roma-bench", *args])
    assert main(args) == 0
    md = tmp_path / "boards" / "budgets" / "km-short.md"
    (command,) = budget_pages.recorded_commands(md)
    assert command == (
        "roma-bench budget check km-short --models gcn --seeds 0 --no-board "
        "--steps 3 --warmup-steps 1"
    )  # the tracking store and --quiet do not change the runs: not recorded
    assert "| gcn | 0.001 | 3 | 1 |" in md.read_text()


def record_trainings(monkeypatch) -> list:
    """The configs ``run_leaderboard`` would train, recorded instead of trained."""
    from roma_bench import results

    trained: list = []
    monkeypatch.setattr(results, "run_trainings",
                        lambda jobs, **_: trained.extend(j.config for j in jobs) or [])  # fmt: skip
    return trained


def test_a_board_trains_at_the_card_budget_with_each_models_tuned_rate(tmp_path, monkeypatch):
    from roma_bench import results

    write_budget_card(tmp_path, monkeypatch, "km-budget",
                      {"steps": 120, "lr": 2e-3, "warmup_steps": 12})  # fmt: skip
    budgets.write_tuning("km-budget", [
        {"model": "gcn", "lr": 3e-4, "steps": 120, "warmup_steps": 12, "seed": 0, "val_metric": 0.1},
        {"model": "gcn", "lr": 2e-3, "steps": 120, "warmup_steps": 12, "seed": 0, "val_metric": 0.2},
        {"model": "roma", "lr": 3e-4, "steps": 60, "warmup_steps": 6, "seed": 0, "val_metric": 0.1},
    ], tmp_path)  # fmt: skip
    trained = record_trainings(monkeypatch)
    results.run_leaderboard("km-budget", ["gcn", "roma"], seeds=1, folder=tmp_path)
    by_model = {c.model_name: c for c in trained}
    assert {c.steps for c in trained} == {120} and {c.optim.warmup_steps for c in trained} == {12}
    assert by_model["gcn"].optim.lr == 3e-4  # the tuning file's choice
    assert by_model["roma"].optim.lr == 2e-3  # tuned at another budget only: the card's rate
    trained.clear()  # --steps: the budget's shape (warm-up scaled) and rates over 60 steps
    results.run_leaderboard("km-budget", ["gcn"], seeds=1, steps=60, folder=tmp_path)
    assert (trained[0].steps, trained[0].optim.warmup_steps, trained[0].optim.lr) == (60, 6, 3e-4)


def test_a_budget_over_other_steps_keeps_its_shape():
    budget = Budget(2000, 1e-2, 100)
    assert budget.over(2000) is budget
    assert budget.over(500) == Budget(500, 1e-2, 25)
    assert budget.over(4000) == budget.scaled(2)
    assert budget.over(10) == Budget(10, 1e-2, 0)  # 0.5 rounds to the even 0
    assert Budget(3, 1e-3, 2).over(2) == Budget(2, 1e-3, 1)  # warm-up stays below the steps


def test_a_card_tuned_at_fewer_steps_trains_its_board_and_check_at_the_sweeps_rates(
    tmp_path, monkeypatch
):
    """``budget.tuned_at``: the board, the check and the board's page take each model's
    rate from the sweep at ``tuned_at`` steps, not from one at the card's own steps."""
    import yaml

    from roma_bench import results

    card = write_budget_card(tmp_path, monkeypatch, "km-long", {
        "steps": 400, "lr": 2e-3, "warmup_steps": 20, "tuned_at": 100})  # fmt: skip
    budgets.write_tuning("km-long", [
        {"model": "gcn", "lr": 3e-4, "steps": 100, "warmup_steps": 5, "seed": 0, "val_metric": 0.1},
        {"model": "gcn", "lr": 2e-3, "steps": 100, "warmup_steps": 5, "seed": 0, "val_metric": 0.2},
        {"model": "gcn", "lr": 1e-2, "steps": 400, "warmup_steps": 20, "seed": 0, "val_metric": 0.01},
    ], tmp_path)  # fmt: skip
    trained = record_trainings(monkeypatch)
    results.run_leaderboard("km-long", ["gcn", "roma"], seeds=1, folder=tmp_path)
    assert {(c.model_name, c.steps, c.optim.warmup_steps, c.optim.lr) for c in trained} == {
        ("gcn", 400, 20, 3e-4), ("roma", 400, 20, 2e-3)
    }  # fmt: skip
    lrs = budgets.check_learning_rates("km-long", ["gcn"], Budget(400, 2e-3, 20), tmp_path)
    assert lrs == {"gcn": 3e-4}
    text = budget_pages.budget_paragraph("km-long", tmp_path)
    assert "(the sweep ran at 100 steps)" in text and "gcn 0.0003" in text
    flags = argparse.Namespace(action="tune", steps=None, lr=None, warmup_steps=None)
    assert budget_cli_budget(flags, load_card("km-long")) == Budget(100, 2e-3, 5)  # the sweep's
    flags.action = "check"
    assert budget_cli_budget(flags, load_card("km-long")) == Budget(400, 2e-3, 20)
    # --steps keeps the card's shape (warm-up 5% of the run), as a doubling chain needs;
    # --warmup-steps overrides it
    flags.steps = 1600
    assert budget_cli_budget(flags, load_card("km-long")) == Budget(1600, 2e-3, 80)
    flags.warmup_steps = 7
    assert budget_cli_budget(flags, load_card("km-long")) == Budget(1600, 2e-3, 7)
    flags.steps, flags.warmup_steps = None, None
    card["budget"]["tuned_at"] = 0
    (tmp_path / "cards" / "km-long.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(ConfigError, match="tuned_at"):
        budgets.tuning_steps("km-long", 400)


def test_a_failed_run_is_a_nan_row_and_never_chosen(tmp_path):
    def run(config):  # the highest rate diverges
        return None if config.optim.lr == max(budgets.LEARNING_RATES) else fake_run([])(config)

    rows = budgets.tune_learning_rates(
        "km-tiny", ["gcn"], Budget(50, 1e-3, 5), run, lambda c, cfg: cfg.optim.lr
    )
    assert math.isnan(rows[-1]["val_metric"]) and not rows[-1]["chosen"]
    budgets.write_tuning("km-tiny", rows, tmp_path)
    assert budgets.tuned_learning_rates("km-tiny", tmp_path) == {"gcn": min(budgets.LEARNING_RATES)}


def test_a_chain_of_doublings_gives_a_verdict_per_budget():
    rows = [
        {"model": "gcn", "steps": b, "warmup_steps": b // 20, "seed": s, "lr": 1e-3, "val_metric": v + s * 1e-3}
        for b, v in ((100, 0.4), (200, 0.2), (400, 0.195)) for s in (0, 1)
    ]  # fmt: skip
    rows.append(
        {"model": "gcn", "steps": 800, "warmup_steps": 40, "seed": 0, "lr": 1e-3, "val_metric": 0.1}
    )
    verdicts = budgets.doubling_verdicts(rows)
    assert [(v["steps"], v["seeds"], v["converged"]) for v in verdicts] == [
        (100, 2, False), (200, 2, True), (400, 1, False)
    ]  # fmt: skip


def test_the_check_runs_each_model_at_its_tuned_rate(tmp_path):
    budget = Budget(500, 1e-3, 25)  # km-tiny's sweep ran at 500 steps (card: tuned_at)
    budgets.write_tuning("km-tiny", [
        {"model": "gcn", "steps": 500, "warmup_steps": 25, "seed": 0, "lr": lr, "val_metric": v}
        for lr, v in ((1e-3, 0.3), (3e-3, 0.1), (1e-2, 0.2))
    ], tmp_path)  # fmt: skip
    lrs = budgets.check_learning_rates("km-tiny", ["gcn", "roma"], budget, tmp_path)
    assert lrs == {"gcn": 3e-3, "roma": 1e-3}  # roma was not tuned: the card's rate
    log: list = []
    budgets.doubling_runs("km-tiny", ["gcn", "roma"], [0], budget, fake_run(log),
                          curve_score({"gcn": 1, "roma": 1}), lrs=lrs)  # fmt: skip
    assert [(c.model_name, c.steps, c.optim.lr) for c in log] == [
        ("gcn", 500, 3e-3), ("gcn", 1000, 3e-3), ("roma", 500, 1e-3), ("roma", 1000, 1e-3)
    ]  # fmt: skip


def test_a_failed_run_leaves_its_seed_out_of_the_verdict_and_is_counted():
    rows = [
        {
            "model": "gcn",
            "steps": s,
            "warmup_steps": s // 20,
            "seed": seed,
            "lr": 1e-2,
            "val_metric": v,
        }
        for s, vals in ((100, (0.2, 0.3, 0.25)), (200, (0.1, float("nan"), 0.15)))
        for seed, v in enumerate(vals)
    ]
    (verdict,) = budgets.doubling_verdicts(rows)
    assert verdict["seeds"] == 2 and verdict["failed"] == 1
    assert verdict["mean_b"] == pytest.approx(0.225) and verdict["mean_2b"] == pytest.approx(0.125)
    every_seed_failed = [dict(r, val_metric=float("nan")) for r in rows if r["steps"] == 200]
    assert (
        budgets.doubling_verdicts([r for r in rows if r["steps"] == 100] + every_seed_failed) == []
    )


def test_first_converged_is_each_models_smallest_converged_budget_in_any_order():
    verdicts = [
        {"model": "roma", "lr": 0.03, "steps": 16000, "converged": True},
        {"model": "gcn", "lr": 0.01, "steps": 8000, "converged": True},
        {"model": "gcn", "lr": 0.01, "steps": 4000, "converged": True},
        {"model": "roma", "lr": 0.03, "steps": 8000, "converged": False},
        {"model": "fno", "lr": 0.01, "steps": 2000, "converged": False},
    ]
    assert first_converged(verdicts) == {"gcn": 4000, "roma": 16000}  # fno never converged
    by_rate = first_converged(verdicts, key=lambda v: f"{v['model']} (lr {v['lr']:g})")
    assert by_rate == {"gcn (lr 0.01)": 4000, "roma (lr 0.03)": 16000}
