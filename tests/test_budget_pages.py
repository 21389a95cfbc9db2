"""The budget check's page, a board's budget paragraph and the verdict words
(roma_bench.budget_pages), from fake rows: no training."""

from __future__ import annotations

import pytest
from kit import write_budget_card

from roma_bench import budget_pages, budgets


def row(model: str, steps: int, seed: int, lr: float, value: float) -> dict:
    """A check run's row, trained with warm-up 10 % of its steps (the test cards' shape)."""
    return {"model": model, "steps": steps, "warmup_steps": steps // 10, "seed": seed, "lr": lr,
            "val_metric": value}  # fmt: skip


def test_budget_check_files(tmp_path):
    rows = [row("gcn", s, 0, 1e-3, v) for s, v in ((100, 0.2), (200, 0.1))]
    verdicts = budgets.doubling_verdicts(rows)
    csv_path, md_path = budget_pages.write_budget_check("km-tiny", rows, verdicts, "cmd", tmp_path)
    assert csv_path == tmp_path / "budgets" / "km-tiny.csv"
    assert csv_path.read_text().splitlines()[0] == "model,steps,warmup_steps,seed,lr,val_metric"
    assert "| gcn | 0.001 | 100 | 10 | 1 | 0.2 | 0.1 | +50.0% | no | no |" in md_path.read_text()


def test_the_budget_page_keeps_every_invocation_once_in_order(tmp_path):
    rows = [row("gcn", s, 0, 1e-3, v) for s, v in ((100, 0.2), (200, 0.1))]
    verdicts = budgets.doubling_verdicts(rows)
    for command in ("first --steps 100", "second --steps 200", "first --steps 100"):
        _, md_path = budget_pages.write_budget_check("km-tiny", rows, verdicts, command, tmp_path)
    assert budget_pages.recorded_commands(md_path) == ["first --steps 100", "second --steps 200"]
    assert "Written by `first --steps 100; second --steps 200` from every run" in (
        md_path.read_text()
    )
    assert budget_pages.recorded_commands(tmp_path / "missing.md") == []


def test_a_budget_whose_double_is_worse_is_converged_and_says_so(tmp_path):
    rows = [row("gcn", s, 0, 1e-2, v) for s, v in ((100, 0.05), (200, 0.06))]
    (verdict,) = budgets.doubling_verdicts(rows)
    assert verdict["converged"] and verdict["improvement"] == pytest.approx(-0.2)
    assert budget_pages.verdict_text(verdict) == "yes (2B worse)"
    _, md_path = budget_pages.write_budget_check("km-tiny", rows, [verdict], "cmd", tmp_path)
    assert (
        "| gcn | 0.01 | 100 | 10 | 1 | 0.05 | 0.06 | -20.0% | yes (2B worse) | no |"
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
        {"model": m, "lr": lr, "steps": s, "warmup_steps": s // 10, "seed": 0, "val_metric": v}
        for m, lr, s, v in (("gcn", 1e-3, 100, 0.2), ("gcn", 3e-3, 100, 0.1),
                            ("roma", 1e-3, 100, 0.3), ("roma", 3e-3, 100, 0.4),
                            ("roma", 1e-2, 50, 0.01))  # another budget: not this board's
    ], tmp_path)  # fmt: skip
    budgets.record_check_rows("km-page", [
        row("gcn", s, seed, 2e-3, v)
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
    assert text.startswith("Training budget (rows at 100 steps)")
    assert budget_pages.budget_paragraph("km-page", tmp_path, {100}) == text
    assert budget_pages.budget_paragraph("no-such-card", tmp_path) == ""


def test_a_board_trained_before_its_cards_budget_changed_says_so(tmp_path, monkeypatch):
    write_budget_card(tmp_path, monkeypatch, "km-page",
                      {"steps": 8000, "lr": 2e-3, "warmup_steps": 400})  # fmt: skip
    text = budget_pages.budget_paragraph("km-page", tmp_path, {2000, 8000})
    assert text.startswith("Training budget: the card's 8000 optimizer steps, 400 warm-up")
    assert "(rows at 8000 steps)" not in text
    assert (
        "**Rows at 2000 steps on this page were trained before the card's budget changed**" in text
    )
    assert "`roma-bench leaderboard run --task km-page` trains them at 8000." in text


def test_the_check_table_shows_the_paired_standard_error(tmp_path):
    rows = [
        row("gcn", s, seed, 1e-2, v)
        for s, values in ((100, (1.0, 1.2, 0.8)), (200, (0.9, 1.0, 0.8)))
        for seed, v in enumerate(values)
    ]
    _, md_path = budget_pages.write_budget_check(
        "km-tiny", rows, budgets.doubling_verdicts(rows), "cmd", tmp_path
    )
    assert (
        "| gcn | 0.01 | 100 | 10 | 3 | 1 | 0.9 | +10.0% ± 5.8% | no | no |" in md_path.read_text()
    )


def test_the_budget_page_shows_every_recorded_run_in_its_plot(tmp_path):
    rows = [
        row(m, s, seed, 1e-2, v * (1 + 0.1 * seed))
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
    assert "| gcn | 0.01 | 100 | 10 | 2 (1 failed, left out) |" in page
    # one seed at a budget (no standard error) still plots
    single = [row("gcn", 100, 0, 1e-2, 0.3)]
    assert budget_pages.budget_plot("km-tiny", single, tmp_path / "one.png").stat().st_size > 0


def test_a_board_counts_only_the_verdicts_with_its_cards_schedule_shape(tmp_path, monkeypatch):
    """Check runs with another warm-up (here 20 % instead of the card's 10 %) are paired
    among themselves on the check's page, never with the card's, and the board's paragraph
    leaves them out; the plot tells the two shapes apart."""
    write_budget_card(tmp_path, monkeypatch, "km-shape",
                      {"steps": 100, "lr": 2e-3, "warmup_steps": 10})  # fmt: skip
    rows = [
        {**row("gcn", s, 0, 2e-3, v), "warmup_steps": w}
        for s, w, v in ((100, 10, 0.2), (200, 20, 0.19), (100, 20, 0.3), (200, 40, 0.1))
    ]  # fmt: skip
    verdicts = budgets.doubling_verdicts(rows)
    assert [(v["warmup_steps"], round(v["improvement"], 3)) for v in verdicts] == [
        (10, 0.05), (20, 0.667)
    ]  # fmt: skip
    _, md_path = budget_pages.write_budget_check("km-shape", rows, verdicts, "cmd", tmp_path)
    page = md_path.read_text()
    assert "| gcn | 0.002 | 100 | 10 | 1 | 0.2 | 0.19 |" in page
    assert "| gcn | 0.002 | 100 | 20 | 1 | 0.3 | 0.1 |" in page
    text = budget_pages.budget_paragraph("km-shape", tmp_path)
    assert "1 verdict(s)" in text and "+5.0%" in text and "+66.7%" not in text
    labels = []
    monkeypatch.setattr(budget_pages, "doubling_curves",
                        lambda series, path, *a: labels.extend(series) or path)  # fmt: skip
    budget_pages.budget_plot("km-shape", rows, tmp_path / "shape.png")
    assert sorted(labels) == ["gcn (lr 0.002, warm-up 10.0%)", "gcn (lr 0.002, warm-up 20.0%)"]
