"""tasks/README.md's generated sections (roma_bench.task_sections): budgets and floors."""

from __future__ import annotations

from pathlib import Path

from test_results_sections import BOARD_HEADER, ROOT, write_gcn_check

from roma_bench.task_sections import budgets_section, floors_section


def write_card(folder: Path, name: str, budget: str) -> Path:
    """km-tiny's card renamed ``name`` with ``budget`` as its budget line (or none)."""
    text = (ROOT / "tasks" / "km-tiny.yaml").read_text().replace("name: km-tiny", f"name: {name}")
    lines = [line for line in text.splitlines() if not line.startswith("budget:")]
    path = folder / "tasks" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines + ([budget] if budget else [])) + "\n")
    return path


def test_budgets_section_gives_every_verdict_and_what_the_budget_lacks(tmp_path):
    cards = [
        write_card(tmp_path, "km-x", "budget: {steps: 400, warmup_steps: 20, tuned_at: 200}"),
        write_card(tmp_path, "km-y", "budget: {steps: 400, chosen_by: somewhere.md}"),
        write_card(tmp_path, "km-z", ""),
    ]
    write_gcn_check(tmp_path)  # gcn on km-x at 200, 400, 800 steps
    with (tmp_path / "budgets" / "km-x.csv").open("a") as handle:  # roma: 200 -> 400 only
        handle.write("".join(f"roma,{b},{b // 20},{s},0.001,{v}\n" for b, v in ((200, 2.0), (400, 1.0))
                             for s in range(2)))  # fmt: skip
    text = budgets_section(cards, tmp_path)
    assert (
        "- **km-x**: 400 steps, 20 warm-up, learning rates swept at 200 steps. Check: "
        "[budgets/km-x.md](../leaderboards/budgets/km-x.md). At the budget (400 → 800): "
        "converged for gcn; not checked for roma. Smallest budget converged for every "
        "checked model (gcn, roma): none yet (first converged budget per model: gcn at 400 "
        "steps, roma not yet).\n"
    ) in text
    assert (
        "| km-x | 200 → 400 | roma | 0.001 | 2 → 1 | +50.0% ± 0.0% | 2 | not converged | yes |"
    ) in text
    at_budget = "| km-x | **400 → 800** (budget) | gcn | 0.01 | 0.9 → 0.89 | +1.1% ± 0.6% | 3 |"
    assert at_budget + " converged | yes |" in text  # 1.1 % lies 6 SE below 5 %: resolved
    assert (
        "- **km-y**: 400 steps, 20 warm-up, learning rates swept at 400 steps. No doubling "
        "check of km-y has a verdict (`chosen_by`: `somewhere.md`).\n"
    ) in text
    assert "km-z" not in text  # no budget, no line
    with (tmp_path / "budgets" / "km-x.csv").open("a") as handle:  # roma 400 -> 800: converged
        handle.write("".join(f"roma,{b},{b // 20},{s},0.001,{v}\n" for b, v in ((800, 0.99),)
                             for s in range(2)))  # fmt: skip
    assert (
        "At the budget (400 → 800): converged for gcn, roma. Smallest budget converged for "
        "every checked model (gcn, roma): 400 steps.\n"
    ) in budgets_section(cards, tmp_path)
    (tmp_path / "budgets" / "km-x.csv").write_text("model,steps,warmup_steps,seed,lr,val_metric\n")
    assert "No doubling check of km-x has a verdict.\n" in budgets_section(cards, tmp_path)


def test_floors_section_gives_each_boards_floor_rows_as_verify_prints_them(tmp_path):
    board = tmp_path / "km-x.csv"
    board.write_text(
        BOARD_HEADER.replace("task_version,", "task_version,data_checksum,")
        + "forecast,1,gcn,tiny,200,10,3,0 1 2,0,True,delta_nrmse,0.5,2.5,0.5,0.1,2.0,abc,0/3\n"
        + "forecast,2,ar,tiny,200,0,3,0 1 2,0,False,delta_nrmse,0.8,1,0.2,0,2.0,abc,\n"
        + "forecast,3,persistence,tiny,200,0,3,0 1 2,0,False,delta_nrmse,0,5,1,0,2.0,abc,\n"
        + "forecast,,oracle,tiny,200,0,3,0 1 2,0,False,delta_nrmse,1,0,1e-06,0,2.0,abc,\n"
    )
    text = floors_section([board])
    assert (
        "**km-x** (floor rows of [`leaderboards/km-x.csv`](../leaderboards/km-x.csv), "
        "task version 2.0, data `abc…`)"
    ) in text
    # persistence first, then ar, then the oracle (FLOORS order); gcn is not a floor
    assert "| persistence | 1 | – | – | – | – | – | 1.000 |\n| ar | 0.2 |" in text
    assert "| oracle | 1e-06 |" in text and "gcn" not in text
    assert floors_section([]).endswith("No board with floor rows is committed.\n")
