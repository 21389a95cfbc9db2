"""The generated results sections: equal to the committed READMEs, and what they say."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from roma_bench.cli import main
from roma_bench.results_sections import (
    SectionError,
    board_summary,
    replace_section,
    stale_sections,
    study_summary,
)

ROOT = Path(__file__).resolve().parents[1]
BOARD_HEADER = (
    "learning_task,rank,model,size,steps,params,seeds,seed_list,failed_runs,tied_with_best,"
    "primary_metric,skill_vs_persistence,ratio_to_ar,delta_nrmse_mean,delta_nrmse_std,"
    "task_version,still_improving\n"
)


def test_committed_sections_equal_what_the_committed_csvs_give():
    """Fails when a board or study CSV changed and `roma-bench leaderboard readme` was not run."""
    assert stale_sections(ROOT) == []


def test_board_summary_names_every_tied_best_and_romas_place(tmp_path):
    path = tmp_path / "km-x.csv"
    path.write_text(
        BOARD_HEADER
        + "forecast,1,gcn,tiny,200,10,3,0 1 2,0,True,delta_nrmse,0.5,2.5,0.5,0.1,2.0,3/3\n"
        + "forecast,1,ar,tiny,200,0,3,0 1 2,0,True,delta_nrmse,0.45,2.75,0.55,0,2.0\n"
        + "forecast,3,roma,tiny,200,10,3,0 1 2,0,False,delta_nrmse,-0.2,6,1.2,0.05,2.0,0/3\n"
        + "forecast,4,persistence,tiny,200,0,3,0 1 2,0,False,delta_nrmse,0,5,1,0,2.0\n"
        + "forecast,,oracle,tiny,200,0,3,0 1 2,0,False,delta_nrmse,1,0,0,0,2.0\n"
    )
    assert board_summary(path) == (
        "**km-x** ([km-x.md](leaderboards/km-x.md)):\n\n"
        "- forecast, ranked by test `delta_nrmse` (lower is better; task version 2.0; 200 steps, "
        "3 seeds per model): best gcn (0.5 ± 0.1), ar (0.55 ± 0) (tied within mean ± std over "
        "seeds). ROMA ranks 3 of 4 (1.2 ± 0.05), skill vs persistence -0.200 (worse than "
        "persistence), ratio to `ar` 6. Still improving at the end of the budget (runs): "
        "gcn (3/3).\n"
    )


def write_gcn_check(folder: Path) -> None:
    """A doubling check of gcn on km-x at 200, 400 and 800 steps (3 seeds each)."""
    (folder / "budgets").mkdir()
    (folder / "budgets" / "km-x.csv").write_text(
        "model,steps,warmup_steps,seed,lr,val_metric\n"
        + "".join(f"gcn,{b},{b // 20},{s},0.01,{v}\n" for b, values in
                  ((200, (1.0, 1.2, 0.8)), (400, (0.9, 1.0, 0.8)), (800, (0.9, 0.98, 0.79)))
                  for s, v in enumerate(values))
    )  # fmt: skip


def test_board_summary_gives_the_doubling_check_at_the_boards_budget(tmp_path):
    path = tmp_path / "km-x.csv"
    path.write_text(
        BOARD_HEADER
        + "forecast,1,gcn,tiny,200,10,3,0 1 2,0,True,delta_nrmse,0.5,2.5,0.5,0.1,2.0,0/3\n"
    )
    write_gcn_check(tmp_path)
    text = board_summary(path)
    assert (
        "Doubling the budget to 400 steps ([budgets/km-x.md](leaderboards/budgets/km-x.md), "
        "validation, paired SE over seeds): gcn +10.0% ± 5.8% (not converged, not resolved by "
        "the seeds). "
        "First converged budget: gcn at 400 steps."
    ) in text


def test_a_board_beyond_the_checked_budgets_says_the_check_has_no_verdict_there(tmp_path):
    path = tmp_path / "km-x.csv"
    path.write_text(
        BOARD_HEADER
        + "forecast,1,gcn,tiny,1600,10,3,0 1 2,0,True,delta_nrmse,0.5,2.5,0.5,0.1,2.0,0/3\n"
    )
    write_gcn_check(tmp_path)
    text = board_summary(path)
    assert "Doubling the budget" not in text
    assert (
        "The doubling check ([budgets/km-x.md](leaderboards/budgets/km-x.md)) has no verdict "
        "at 1600 steps yet; its last verdicts: gcn +1.1% ± 0.6% from 400 to 800 steps: "
        "converged."
    ) in text


def test_a_model_checked_only_below_the_boards_budget_gets_its_last_verdict(tmp_path):
    """km-314k's case: roma has a verdict at the board's 800 steps, gcn converged earlier
    and was not checked there; the line says where gcn's check stopped, and how."""
    path = tmp_path / "km-x.csv"
    path.write_text(
        BOARD_HEADER
        + "forecast,1,gcn,tiny,800,10,3,0 1 2,0,True,delta_nrmse,0.5,2.5,0.5,0.1,2.0,0/3\n"
    )
    write_gcn_check(tmp_path)
    with (tmp_path / "budgets" / "km-x.csv").open("a") as rows:
        rows.write("".join(f"roma,{b},{b // 20},{s},0.03,{v}\n" for b, values in
                           ((800, (1.0, 1.1, 0.9)), (1600, (0.99, 1.09, 0.9)))
                           for s, v in enumerate(values)))  # fmt: skip
    text = board_summary(path)
    assert "Doubling the budget to 1600 steps" in text
    assert "roma +0.7%" in text
    assert (
        "The other checked models have no verdict at 800 steps; their last: gcn +1.1% ± 0.6% "
        "from 400 to 800 steps: converged."
    ) in text
    assert "First converged budget" not in text


def test_a_study_scored_on_an_old_primary_is_superseded_not_summarised(tmp_path):
    path = tmp_path / "noise-km-tiny.csv"
    path.write_text(
        "# command: roma-bench study noise --task km-tiny\n"
        "model,sigma,seed,metric,error,steps,run_id,status\n"
        "gcn,0,0,smspe,0.005,30,r1,ok\n"
    )
    text = study_summary(path)
    assert text.startswith("### Noise on km-tiny — [noise-km-tiny.md](noise-km-tiny.md)\n\n")
    assert "Superseded: [noise-km-tiny.csv](noise-km-tiny.csv) was made with no task version " \
        "column and scored on smspe" in text  # fmt: skip
    assert "0.005" not in text


def test_a_current_noise_study_is_summarised_per_sigma(tmp_path):
    path = tmp_path / "noise-km-tiny.csv"
    path.write_text(
        "# command: roma-bench study noise --task km-tiny\n"
        "model,sigma,seed,metric,error,steps,run_id,status,task_version\n"
        "gcn,0,0,delta_nrmse,0.4,300,r1,ok,2.0\ngcn,0,1,delta_nrmse,0.6,300,r2,ok,2.0\n"
        "gcn,0.1,0,delta_nrmse,0.75,300,r3,ok,2.0\n"
    )
    text = study_summary(path)
    assert "300 steps per run. Command: `roma-bench study noise --task km-tiny`" in text
    assert "- gcn (1/2 seeds): σ = 0: 0.5 ± 0.14; σ = 0.1: 0.75 (× 1.50)." in text
    stale = path.read_text().replace(",2.0\n", ",1.0\n")
    path.write_text(stale)
    assert "task version 1.0 (the card is now 2.0)" in study_summary(path)


def test_missing_markers_name_the_readme_and_the_markers():
    with pytest.raises(SectionError) as err:
        replace_section("no markers", "results", "body", "X.md")
    assert str(err.value) == "X.md: no '<!-- results:begin -->' … '<!-- results:end -->' markers"
    text = "a\n<!-- s:begin -->\nold\n<!-- s:end -->\nb"
    assert replace_section(text, "s", "new") == "a\n<!-- s:begin -->\nnew\n<!-- s:end -->\nb"


def test_a_changed_board_csv_makes_the_section_stale_until_regenerated(tmp_path, capsys):
    for rel in ("README.md", "leaderboards"):
        src, dst = ROOT / rel, tmp_path / rel
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy(src, dst)
    board = tmp_path / "leaderboards" / "km-tiny.csv"
    board.write_text(board.read_text().replace(",roma,", ",roma2,"))
    assert stale_sections(tmp_path) == [f"{tmp_path / 'README.md'}: results"]
    assert main(["leaderboard", "readme", "--root", str(tmp_path), "--check"]) == 1
    assert "stale generated section: " in capsys.readouterr().err
    assert main(["leaderboard", "readme", "--root", str(tmp_path)]) == 0
    assert stale_sections(tmp_path) == []
    assert main(["leaderboard", "readme", "--root", str(tmp_path), "--check"]) == 0
    assert "ROMA has no ranked row." in (tmp_path / "README.md").read_text()


def test_a_tuning_file_beside_the_boards_is_not_a_board(tmp_path):
    for rel in ("README.md", "leaderboards/studies/README.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "leaderboards" / "km-x.tuning.csv").write_text(
        "model,steps,warmup_steps,seed,lr,val_metric,chosen\ngcn,500,25,0,0.01,0.05,True\n"
    )
    assert main(["leaderboard", "readme", "--root", str(tmp_path)]) == 0
    assert "km-x" not in (tmp_path / "README.md").read_text()


def test_scaling_summary_gives_each_axis_its_own_n(tmp_path):
    path = tmp_path / "scaling-km-tiny.csv"
    head = "axis,model,task,seed,width_factor,nodes,task_version,steps,num_parameters,metric,error,status\n"
    rows = [f"parameters,gcn,km-tiny,0,{w},,2.0,500,{p},delta_nrmse,{e},ok\n"
            for w, p, e in ((0.5, 100, 0.2), (1, 400, 0.1), (2, 1600, 0.05))]  # fmt: skip
    rows += [f"data,gcn,km-tiny,0,,{n},2.0,500,400,delta_nrmse,{e},ok\n"
             for n, e in ((500, 0.2), (1000, 0.1))]  # fmt: skip
    path.write_text("# command: roma-bench study scaling\n" + head + "".join(rows))
    text = study_summary(path)
    assert "gcn (parameters axis, 3 points, parameters N = 100…1,600): α = 0.5 ± " in text
    assert (
        "gcn (data axis, 2 points, training nodes N (nested subsets of one store) = 500…1,000)"
        in text
    )


def test_a_study_says_per_task_whether_it_ran_at_the_cards_budget_and_its_check(tmp_path):
    """A study one budget behind its card (or at a budget the check found unconverged) says
    so under its numbers; a task the check never ran has no verdict, a card's own budget is
    named as such."""
    studies = tmp_path / "leaderboards" / "studies"
    studies.mkdir(parents=True)
    budgets = tmp_path / "leaderboards" / "budgets"
    budgets.mkdir()
    (budgets / "km-tiny.csv").write_text(
        "model,steps,warmup_steps,seed,lr,val_metric\n"
        + "".join(f"gcn,{b},{b // 20},{s},0.01,{v}\n" for b, values in
                  ((300, (1.0, 1.2, 0.8)), (600, (0.5, 0.6, 0.4))) for s, v in enumerate(values))
    )  # fmt: skip
    path = studies / "scaling-km-tiny.csv"
    head = "axis,model,task,seed,width_factor,nodes,task_version,steps,num_parameters,metric,error,status\n"
    rows = [f"cards,gcn,{task},0,,{n},2.0,{steps},400,delta_nrmse,{e},ok\n"
            for task, n, steps, e in (("km-tiny", 2000, 300, 0.2), ("km-38k", 38000, 8000, 0.1))]  # fmt: skip
    path.write_text("# command: roma-bench study scaling\n" + head + "".join(rows))
    text = study_summary(path)
    assert "Budget against the cards ([tasks/README.md](../../tasks/README.md#budgets)):" in text
    assert (
        "- km-tiny, 300 steps: not the card's budget (2000 steps). Doubling the budget to 600 "
        "steps ([budgets/km-tiny.md](../budgets/km-tiny.md), validation, paired SE over seeds): "
        "gcn +50.0% ± 5.8% (not converged)."
    ) in text
    assert "- km-38k, 8000 steps: the card's budget.\n" in text
