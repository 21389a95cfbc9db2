"""The budget check's page, a board's budget paragraph and the verdict words
(roma_bench.budget_pages), from fake rows: no training."""

from __future__ import annotations

import pytest
from kit import write_budget_card

from roma_bench import budget_pages, budgets


def test_budget_check_files(tmp_path):
    rows = [
        {"model": "gcn", "steps": s, "seed": 0, "lr": 1e-3, "val_metric": v}
        for s, v in ((100, 0.2), (200, 0.1))
    ]
    verdicts = budgets.doubling_verdicts(rows)
    csv_path, md_path = budget_pages.write_budget_check("km-tiny", rows, verdicts, "cmd", tmp_path)
    assert csv_path == tmp_path / "budgets" / "km-tiny.csv"
    assert csv_path.read_text().splitlines()[0] == "model,steps,seed,lr,val_metric"
    assert "| gcn | 0.001 | 100 | 1 | 0.2 | 0.1 | +50.0% | no | no |" in md_path.read_text()


def test_the_budget_page_keeps_every_invocation_once_in_order(tmp_path):
    rows = [
        {"model": "gcn", "steps": s, "seed": 0, "lr": 1e-3, "val_metric": v}
        for s, v in ((100, 0.2), (200, 0.1))
    ]
    verdicts = budgets.doubling_verdicts(rows)
    for command in ("first --steps 100", "second --steps 200", "first --steps 100"):
        _, md_path = budget_pages.write_budget_check("km-tiny", rows, verdicts, command, tmp_path)
    assert budget_pages.recorded_commands(md_path) == ["first --steps 100", "second --steps 200"]
    assert "Written by `first --steps 100; second --steps 200` from every run" in (
        md_path.read_text()
    )
    assert budget_pages.recorded_commands(tmp_path / "missing.md") == []


def test_a_budget_whose_double_is_worse_is_converged_and_says_so(tmp_path):
    rows = [
        {"model": "gcn", "steps": s, "seed": 0, "lr": 1e-2, "val_metric": v}
        for s, v in ((100, 0.05), (200, 0.06))
    ]
    (verdict,) = budgets.doubling_verdicts(rows)
    assert verdict["converged"] and verdict["improvement"] == pytest.approx(-0.2)
    assert budget_pages.verdict_text(verdict) == "yes (2B worse)"
    _, md_path = budget_pages.write_budget_check("km-tiny", rows, [verdict], "cmd", tmp_path)
    assert (
        "| gcn | 0.01 | 100 | 1 | 0.05 | 0.06 | -20.0% | yes (2B worse) | no |"
        in md_path.read_text()
    )


def test_the_board_page_states_the_budget_the_tuning_and_the_check(tmp_path, monkeypatch):
    from roma_bench.board_files import to_markdown
    from roma_bench.leaderboard import Leaderboard

    write_budget_card(tmp_path, monkeypatch, "km-page",
                      {"steps": 100, "lr": 2e-3, "warmup_steps": 10})  # fmt: skip
    assert "Learning rate: the card's 0.002 (no tuning file)." in budget_pages.budget_paragraph(
        "km-page", tmp_path
    )
    budgets.write_tuning("km-page", [
        {"model": m, "lr": lr, "steps": s, "seed": 0, "val_metric": v}
        for m, lr, s, v in (("gcn", 1e-3, 100, 0.2), ("gcn", 3e-3, 100, 0.1),
                            ("roma", 1e-3, 100, 0.3), ("roma", 3e-3, 100, 0.4),
                            ("roma", 1e-2, 50, 0.01))  # another budget: not this board's
    ], tmp_path)  # fmt: skip
    budgets.record_check_rows("km-page", [
        {"model": "gcn", "steps": s, "seed": seed, "lr": 2e-3, "val_metric": v}
        for s, v in ((50, 0.5), (100, 0.2), (200, 0.199)) for seed in (0, 1)
    ], tmp_path)  # fmt: skip
    text = budget_pages.budget_paragraph("km-page", tmp_path)
    assert "the card's 100 optimizer steps, 10 warm-up steps" in text
    assert "the same grid (0.001, 0.003) for every learned model, one seed (0)" in text
    assert "lowest validation primary metric: gcn 0.003, roma 0.001." in text
    assert "At the top of the grid (a higher rate might have done better): gcn." in text
    # the verdict at the board's budget (100 → 200), not the earlier 50 → 100
    assert "1 verdict(s)" in text
    assert "gcn (lr 0.002) 100 → 200 steps: +0.5% ± 0.0%, converged" in text
    board = Leaderboard("km-page", "2.0", "abc", rows=[])
    assert text in to_markdown(board, "files", folder=tmp_path)
    assert budget_pages.budget_paragraph("no-such-card", tmp_path) == ""


def test_the_check_table_shows_the_paired_standard_error(tmp_path):
    rows = [
        {"model": "gcn", "steps": s, "seed": seed, "lr": 1e-2, "val_metric": v}
        for s, values in ((100, (1.0, 1.2, 0.8)), (200, (0.9, 1.0, 0.8)))
        for seed, v in enumerate(values)
    ]
    _, md_path = budget_pages.write_budget_check(
        "km-tiny", rows, budgets.doubling_verdicts(rows), "cmd", tmp_path
    )
    assert "| gcn | 0.01 | 100 | 3 | 1 | 0.9 | +10.0% ± 5.8% | no | no |" in md_path.read_text()


def test_the_budget_page_shows_every_recorded_run_in_its_plot(tmp_path):
    rows = [
        {"model": m, "steps": s, "seed": seed, "lr": 1e-2, "val_metric": v * (1 + 0.1 * seed)}
        for m in ("gcn", "roma") for s, v in ((100, 0.2), (200, 0.1), (400, 0.09))
        for seed in range(3)
    ]  # fmt: skip
    rows[0]["val_metric"] = float("nan")  # a failed run is left out, not plotted as 0
    verdicts = budgets.doubling_verdicts(rows)
    _, md_path = budget_pages.write_budget_check("km-tiny", rows, verdicts, "cmd", tmp_path)
    png = md_path.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = md_path.read_text()
    assert "![Validation score against the budget on km-tiny](km-tiny.png)" in page
    assert "| gcn | 0.01 | 100 | 2 (1 failed, left out) |" in page
    # one seed at a budget (no standard error) still plots
    single = [{"model": "gcn", "steps": 100, "seed": 0, "lr": 1e-2, "val_metric": 0.3}]
    assert budget_pages.budget_plot("km-tiny", single, tmp_path / "one.png").stat().st_size > 0
