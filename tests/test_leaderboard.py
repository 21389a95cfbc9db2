"""Leaderboards from tracked runs: rows, mean ± std over seeds, refusal to mix task versions."""

from __future__ import annotations

import csv
import math

import pytest

from roma_bench.board_files import to_markdown, write_leaderboard
from roma_bench.cards import load_card
from roma_bench.cli import main
from roma_bench.leaderboard import LeaderboardError, build_leaderboard, fetch_runs

PRIMARY = {"forecast": "delta_nrmse", "effective": "coarse_error"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite store for the module (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('lb') / 'mlflow.db'}"


def log_run(uri, task, model, seed, smspe, *, version="1.0", checksum="abc123", status="FINISHED",
            board=None, params=1000, steps=50, wall=10.0):  # fmt: skip
    import mlflow

    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name(task)
    exp_id = experiment.experiment_id if experiment else client.create_experiment(task)
    tags = {
        "roma.leaderboard": board or task, "roma.model": model, "roma.size": "tiny",
        "roma.seed": str(seed), "roma.learning_task": "forecast", "roma.task_version": version,
        "roma.data_checksum": checksum, "roma.num_parameters": str(params),
        "roma.wall_time_s": str(wall), "roma.cpu_peak_memory_mb": "512.0",
        "roma.gpu_peak_memory_mb": "0.0", "hardware": "test-cpu (2 cores)",
        "roma.command": f"roma-bench train --model {model} --task {task} --seed {seed}",
        "roma.leaderboard_command": f"roma-bench leaderboard run --task {task} --seeds 2",
    }  # fmt: skip
    run = client.create_run(exp_id, tags=tags)
    client.log_param(run.info.run_id, "steps", str(steps))
    if status == "FINISHED":
        client.log_metric(run.info.run_id, "test_smspe", smspe)
        client.log_metric(run.info.run_id, "test_nrmse", 10 * smspe)
        client.log_metric(run.info.run_id, "test_delta_nrmse", 5 * smspe)
    client.set_terminated(run.info.run_id, status)
    return run.info.run_id


def test_two_models_two_seeds(store, tmp_path):
    task = "lb-two"
    log_run(store, task, "alpha", 0, 0.9)  # superseded by the later run of seed 0
    log_run(store, task, "alpha", 0, 0.1)
    log_run(store, task, "alpha", 1, 0.3)
    log_run(store, task, "beta", 0, 0.05, params=2000)
    log_run(store, task, "beta", 1, 0.07, params=2000)
    log_run(store, task, "beta", 2, 0.0, status="FAILED")
    log_run(store, "lb-other", "gamma", 0, 0.5)  # another task's runs never appear

    board = build_leaderboard(task, fetch_runs(task, store), primary=PRIMARY)
    assert [(r["model"], r["seeds"], r["params"]) for r in board.rows] == [
        ("beta", 2, 2000),
        ("alpha", 2, 1000),
    ]
    beta, alpha = board.rows
    assert alpha["smspe_mean"] == pytest.approx(0.2)
    assert alpha["smspe_std"] == pytest.approx(math.sqrt(0.02))  # sample std of 0.1, 0.3
    assert alpha["nrmse_mean"] == pytest.approx(2.0)
    assert beta["smspe_mean"] == pytest.approx(0.06) and beta["smspe_std"] == pytest.approx(
        math.sqrt(2e-4)
    )
    assert beta["failed_runs"] == 1 and alpha["failed_runs"] == 0
    assert alpha["seed_list"] == "0 1"

    csv_path, md_path = write_leaderboard(board, store, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert [r["model"] for r in rows] == ["beta", "alpha"]
    assert float(rows[1]["smspe_mean"]) == pytest.approx(0.2)
    assert rows[1]["task_version"] == "1.0" and rows[1]["hardware"] == "test-cpu (2 cores)"
    assert rows[1]["command"] == "roma-bench leaderboard run --task lb-two --seeds 2"
    text = md_path.read_text()
    # alpha 1 ± 0.71 overlaps beta 0.3 ± 0.071: it shares rank 1
    assert (
        "| 1 (tie) | alpha | tiny | 50 | 1,000 | 1 ± 0.71 | – | – | 2 ± 1.4 | 0.2 ± 0.14 | 2 |"
        in text
    )
    assert "| rank | model | size | steps | params | **delta_nrmse** (primary) |" in text
    assert "sMSPE (ROMA paper)" in text
    assert "never edited by hand" in text and "task version 1.0" in text
    assert "Failed runs (not in the means): beta (1)." in text


def test_mixing_task_versions_is_refused(store):
    task = "lb-mixed"
    log_run(store, task, "alpha", 0, 0.1, version="1.0")
    old = log_run(store, task, "alpha", 1, 0.3, version="0.9")
    records = fetch_runs(task, store)
    with pytest.raises(
        LeaderboardError, match=r"refusing to mix task versions: 1 run\(s\) were made on v0.9"
    ) as err:
        build_leaderboard(task, records, version="1.0", checksum="abc123", primary=PRIMARY)
    assert old in str(err.value)
    board = build_leaderboard(task, records, "1.0", "abc123", True, primary=PRIMARY)
    assert board.rows[0]["seeds"] == 1 and [r.run_id for r in board.excluded] == [old]
    assert "1 run(s) of other task versions or data were left out" in to_markdown(board, store)


def test_other_data_checksum_is_refused(store):
    task = "lb-checksum"
    log_run(store, task, "alpha", 0, 0.1, checksum="abc123")
    log_run(store, task, "alpha", 1, 0.1, checksum="fff999")
    with pytest.raises(LeaderboardError, match=r"v1.0 \(data fff999…\)"):
        build_leaderboard(
            task, fetch_runs(task, store), version="1.0", checksum="abc123", primary=PRIMARY
        )


def test_cli_show_writes_files_and_refuses_old_versions(store, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(tmp_path / "no-data"))  # reference: card version
    current = load_card("km-tiny").version
    log_run(store, "km-tiny", "roma", 0, 0.01, version=current)
    log_run(store, "km-tiny", "persistence", 0, 0.02, version=current)
    code = main(["leaderboard", "show", "--task", "km-tiny", "--tracking-uri", store,
                 "--out", str(tmp_path / "boards"), "--from-mlflow"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "ROMA wins." in out
    assert (tmp_path / "boards" / "km-tiny.csv").is_file()
    assert (tmp_path / "boards" / "km-tiny.md").read_text().startswith("# Leaderboard: km-tiny")

    log_run(store, "km-tiny", "roma", 1, 0.01, version="0.1")
    code = main(["leaderboard", "show", "--task", "km-tiny", "--tracking-uri", store,
                 "--out", str(tmp_path / "boards"), "--from-mlflow"])  # fmt: skip
    assert code == 2
    assert "refusing to mix task versions" in capsys.readouterr().err


def test_no_runs_says_how_to_make_them(store):
    with pytest.raises(LeaderboardError, match="roma-bench leaderboard run --task lb-none"):
        build_leaderboard("lb-none", fetch_runs("lb-none", store))


def test_skill_vs_persistence_and_ratio_to_ar_and_an_unranked_oracle(store, tmp_path):
    """Skill and ratio come from the primary's seed means; the oracle is shown, not ranked."""
    task = "lb-skill"
    for seed, (model_error, persistence, ar, oracle) in enumerate(
        [(0.2, 1.0, 0.4, 0.01), (0.4, 1.0, 0.4, 0.03)]
    ):
        # logged sMSPE = e / 5, so the primary delta_nrmse = e (see log_run)
        log_run(store, task, "alpha", seed, model_error / 5)
        log_run(store, task, "persistence", seed, persistence / 5, params=0)
        log_run(store, task, "ar", seed, ar / 5, params=0)
        log_run(store, task, "oracle", seed, oracle / 5, params=0)
    board = build_leaderboard(task, fetch_runs(task, store), primary=PRIMARY)
    # alpha 0.3 ± 0.14 overlaps ar 0.4 ± 0: they share rank 1
    assert [(r["rank"], r["model"]) for r in board.rows] == [
        (1, "alpha"),
        (1, "ar"),
        (3, "persistence"),
        ("", "oracle"),
    ]
    alpha, ar, persistence, oracle = board.rows
    assert alpha["delta_nrmse_mean"] == pytest.approx(0.3)
    assert alpha["skill_vs_persistence"] == pytest.approx(1 - 0.3 / 1.0)
    assert alpha["ratio_to_ar"] == pytest.approx(0.3 / 0.4)
    assert persistence["skill_vs_persistence"] == pytest.approx(0.0)
    assert ar["ratio_to_ar"] == pytest.approx(1.0)
    assert oracle["skill_vs_persistence"] == pytest.approx(0.98)
    assert oracle["ratio_to_ar"] == pytest.approx(0.05)

    csv_path, md_path = write_leaderboard(board, store, tmp_path)
    rows = list(csv.DictReader(csv_path.open()))
    assert [(r["rank"], r["tied_with_best"], r["model"]) for r in rows] == [
        ("1", "True", "alpha"),
        ("1", "True", "ar"),
        ("3", "False", "persistence"),
        ("", "False", "oracle"),
    ]
    assert float(rows[0]["skill_vs_persistence"]) == pytest.approx(0.7)
    assert float(rows[0]["ratio_to_ar"]) == pytest.approx(0.75)
    assert rows[0]["primary_metric"] == "delta_nrmse"
    text = md_path.read_text()
    assert "| 1 (tie) | alpha | tiny | 50 | 1,000 | 0.3 ± 0.14 | 0.700 | 0.75 |" in text
    assert "| 1 (tie) | ar | tiny | 50 | 0 | 0.4 ± 0 | 0.600 | 1 |" in text
    assert "| 3 | persistence |" in text
    assert "| ref. | oracle | tiny | 50 | 0 | 0.02 ± 0.014 | 0.980 | 0.05 |" in text
    assert (
        "Best by test delta_nrmse (excluding the oracle): alpha (tiny), ar (tiny), tied within "
        "mean ± std over seeds. ROMA has no finished runs in this table." in text
    )


def test_the_card_chooses_the_ranking_metric(store):
    """Without an explicit choice the board ranks by the card's primary (km-tiny: delta_nrmse)."""
    task = "km-tiny"
    log_run(store, task, "sharp", 0, 0.5, board="lb-card")  # worse sMSPE ...
    run = log_run(store, task, "blunt", 0, 0.1, board="lb-card")  # ... better sMSPE
    import mlflow

    mlflow.MlflowClient(store).log_metric(run, "test_delta_nrmse", 9.0)  # but worse delta_nrmse
    board = build_leaderboard(task, fetch_runs(task, store, "lb-card"))
    assert board.primary == {"forecast": "delta_nrmse", "effective": "coarse_error"}
    assert [r["model"] for r in board.rows] == ["sharp", "blunt"]


def test_each_learning_task_ranks_by_its_own_primary():
    """rank_rows: forecast by delta_nrmse, effective by coarse_error; skills per learning task."""
    from roma_bench.ranking import rank_rows

    def row(learning_task, model, **means):
        return {"learning_task": learning_task, "model": model,
                **{f"{k}_mean": v for k, v in means.items()}}  # fmt: skip

    rows = [
        row("effective", "alpha", delta_nrmse=0.1, coarse_error=0.8),
        row("effective", "beta", delta_nrmse=0.9, coarse_error=0.2),
        row("effective", "persistence", delta_nrmse=1.0, coarse_error=0.4),
        row("forecast", "oracle", delta_nrmse=1e-6, coarse_error=1e-6),
        row("forecast", "alpha", delta_nrmse=0.1, coarse_error=0.8),
        row("forecast", "beta", delta_nrmse=0.9, coarse_error=0.2),
        row("forecast", "ar", delta_nrmse=0.2, coarse_error=0.3),
    ]
    ranked = rank_rows(rows, PRIMARY)
    assert [(r["learning_task"], r["rank"], r["model"]) for r in ranked] == [
        ("effective", 1, "beta"), ("effective", 2, "persistence"), ("effective", 3, "alpha"),
        ("forecast", 1, "alpha"), ("forecast", 2, "ar"), ("forecast", 3, "beta"),
        ("forecast", "", "oracle"),
    ]  # fmt: skip
    effective_beta, forecast_alpha = ranked[0], ranked[3]
    assert effective_beta["primary_metric"] == "coarse_error"
    assert effective_beta["skill_vs_persistence"] == pytest.approx(0.5)
    assert math.isnan(effective_beta["ratio_to_ar"])  # no ar row for the effective task
    assert math.isnan(forecast_alpha["skill_vs_persistence"])  # no persistence row here
    assert forecast_alpha["ratio_to_ar"] == pytest.approx(0.5)


def test_rows_whose_mean_std_overlaps_the_best_share_its_rank():
    """Overlap with the best's [m − s, m + s] → rank 1 (tie); others keep their place."""
    from roma_bench.board_files import to_markdown
    from roma_bench.leaderboard import Leaderboard
    from roma_bench.ranking import rank_rows

    def row(model, mean, std):
        return {"learning_task": "forecast", "model": model, "size": "tiny", "steps": 10,
                "params": 1, "seeds": 3, "train_time_s": 1.0, "peak_memory_mb": 1.0,
                "hardware": "cpu", "command": "c", "failed_runs": 0,
                "delta_nrmse_mean": mean, "delta_nrmse_std": std}  # fmt: skip

    rows = [
        row("far", 0.9, 0.05),  # 0.85 > 0.55: not tied
        row("roma", 0.6, 0.1),  # 0.5 ≤ 0.55: tied (touches only through its own std)
        row("best", 0.5, 0.05),
        row("edge", 0.55, 0.0),  # exactly at the best's upper end: tied
        row("wide", 1.0, 0.6),  # behind far on the mean, but 0.4 ≤ 0.55: tied, listed first
        row("oracle", 0.0, 0.0),
    ]
    ranked = rank_rows(rows, PRIMARY)
    assert [(r["model"], r["rank"], r["tied_with_best"]) for r in ranked] == [
        ("best", 1, True), ("edge", 1, True), ("roma", 1, True), ("wide", 1, True),
        ("far", 5, False), ("oracle", "", False),
    ]  # fmt: skip
    alone = rank_rows([row("best", 0.5, 0.01), row("far", 0.9, 0.01)], PRIMARY)
    assert [(r["rank"], r["tied_with_best"]) for r in alone] == [(1, False), (2, False)]
    text = to_markdown(Leaderboard("t", "2.0", "x", ranked, primary=PRIMARY), "here")
    assert "| 1 (tie) | roma | tiny |" in text and "| 5 | far | tiny |" in text
    assert "Command (every row): `c`" in text and "Commands (one per row)" not in text
    assert (
        "Best by test delta_nrmse (excluding the oracle): best (tiny), edge (tiny), roma (tiny), "
        "wide (tiny), tied within mean ± std over seeds. ROMA ties for first." in text
    )


def test_a_model_still_improving_at_the_end_of_its_budget_is_flagged(store, tmp_path):
    """The val_loss history travels into the result file; the board counts falling tails."""
    import mlflow

    from roma_bench.results import read_results, record_run

    task, client = "lb-improving", mlflow.MlflowClient(store)
    for seed in range(2):
        falling = log_run(store, task, "slow", seed, 0.1)
        flat = log_run(store, task, "done", seed, 0.1)
        for step in range(10, 110, 10):
            client.log_metric(falling, "val_loss", 1.0 - 0.004 * step, step=step)  # −50 %
            client.log_metric(flat, "val_loss", 0.5 + 1e-4 * (step % 20), step=step)
        for run_id in (falling, flat):
            record_run(run_id, task, store, tmp_path / "runs")
    records = read_results(tmp_path / "runs")
    slow = next(r for r in records if r.model == "slow")
    assert slow.validation_curve[:2] == [[10.0, pytest.approx(0.96)], [20.0, pytest.approx(0.92)]]
    board = build_leaderboard(task, records, primary=PRIMARY)
    assert {r["model"]: r["still_improving"] for r in board.rows} == {"slow": "2/2", "done": "0/2"}
    csv_path, md_path = write_leaderboard(board, "files", tmp_path)
    rows = {r["model"]: r["still_improving"] for r in csv.DictReader(csv_path.open())}
    assert rows == {"slow": "2/2", "done": "0/2"}
    assert (
        "Still improving at the end of the budget (the last quarter of the validation-loss curve "
        "falls > 5% and > 2 standard errors; roma_bench.convergence): slow (2/2 runs). The curve "
        "of a run often falls in its last quarter as the cosine schedule anneals the rate; whether "
        "a longer budget would help is the doubling check's question (the training-budget "
        "paragraph above)."
    ) in md_path.read_text()


def test_the_board_states_its_measured_wall_time(store, tmp_path):
    """Result files carry the run's end; the page states last end − first start."""
    import dataclasses

    from roma_bench.leaderboard import board_times
    from roma_bench.results import read_results, record_run

    task = "lb-timed"
    for seed in range(2):
        record_run(log_run(store, task, "alpha", seed, 0.1, wall=30.0), task, store, tmp_path)
    records = read_results(tmp_path)
    assert all(r.end_time >= r.start_time > 0 for r in records)
    first, second = records
    shifted = [dataclasses.replace(first, start_time=1_000, end_time=61_000),
               dataclasses.replace(second, start_time=31_000, end_time=151_000)]  # fmt: skip
    assert board_times(shifted) == (150.0, 60.0)
    board = build_leaderboard(task, shifted, primary=PRIMARY)
    assert (board.wall_time_s, board.train_time_total_s, board.timed_runs) == (150.0, 60.0, 2)
    text = to_markdown(board, "files")
    assert "Measured time to run this board: 2.5 min wall clock while any of its runs was " \
        "running (from the first run's start to the last run's end, less any stretch when none " \
        "was; 2 runs," in text and "add up to 1.0 min)." in text  # fmt: skip
    assert "continued from the last checkpoint" not in text
    # the first run cut off from 20 s to 50 s: 10 s of it overlap the second run, 10 s do not
    cut = [dataclasses.replace(shifted[0], stopped=[[21_000, 51_000]]), shifted[1]]
    assert board_times(cut) == (140.0, 60.0)
    board = build_leaderboard(task, cut, primary=PRIMARY)
    assert board.continued_runs == 1
    assert "2.3 min wall clock" in to_markdown(board, "files")
    assert "1 run was cut off and continued from the last checkpoint in a later session; the " \
        "time from that checkpoint to the continuation is not counted." in to_markdown(
        board, "files")  # fmt: skip
    # a stop between sessions when no other run ran is not board time either
    apart = [dataclasses.replace(shifted[0], end_time=3_661_000, stopped=[[31_000, 3_631_000]]),
             dataclasses.replace(shifted[1], start_time=3_661_000, end_time=3_721_000)]  # fmt: skip
    assert board_times(apart) == (120.0, 60.0)
    from roma_bench.leaderboard import stopped_intervals

    assert stopped_intervals("[[1, 2], [5, 9]]") == [[1, 2], [5, 9]]
    assert all(stopped_intervals(bad) == [] for bad in ("", "bad", "[1]", '{"a": 1}', "[[1]]"))
    mixed = [dataclasses.replace(shifted[0], code_commit="0123456789abcdef" * 2 + "-dirty"),
             dataclasses.replace(shifted[1], code_commit="")]  # fmt: skip
    assert build_leaderboard(task, mixed, primary=PRIMARY).code_commits == {
        "0123456789abcdef" * 2 + "-dirty": 1, "": 1
    }  # fmt: skip
    assert (
        "Code that trained the runs (git commit, runs): `0123456789ab-dirty` (1), unrecorded (1)."
        in to_markdown(build_leaderboard(task, mixed, primary=PRIMARY), "files")
    )
    unknown = [dataclasses.replace(first, end_time=0), second]
    assert math.isnan(board_times(unknown)[0])
    assert "Measured time" not in to_markdown(
        build_leaderboard(task, unknown, primary=PRIMARY), "f"
    )
