"""Studies resume and train at the card's budget (recording trainer, no real training).

A rerun of a study keeps every run with a finished row in its CSV and trains only the
missing and failed ones; without ``--steps`` the ``roma-bench study`` commands train at the
card's budget with each model's tuned learning rate.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from study_doubles import RecordingTrainer, pde_scores, run_ids, run_study

from roma_bench import budgets
from roma_bench.cli import main
from roma_bench.config import load_yaml
from roma_bench.registry import task_card_path
from roma_bench.studies.common import read_csv
from roma_bench.studies.noise import run_noise_study
from roma_bench.studies.scaling import run_scaling_study
from roma_bench.studies.transfer import run_transfer_study
from roma_bench.training.config import TrainConfig

STUDIES = ("transfer", "scaling", "noise")


def interrupt_at_the_third_run(study: str, tmp_path: Path, tracking: str) -> None:
    """Run ``study`` with a trainer ("first") that is interrupted at its third run."""

    def interrupt_the_third(config: TrainConfig) -> float:
        if len(first.calls) == 3:
            raise KeyboardInterrupt
        return 1.0 + config.seed

    first = RecordingTrainer(tmp_path, interrupt_the_third, pde_scores, name="first")
    with pytest.raises(KeyboardInterrupt):
        run_study(study, first, tmp_path, tracking)


@pytest.mark.parametrize("study", STUDIES)
def test_a_rerun_after_an_interruption_trains_only_the_missing_runs(
    study: str, tmp_path: Path, tracking: str
) -> None:
    interrupt_at_the_third_run(study, tmp_path, tracking)
    written = read_csv(tmp_path / f"{study}-km-tiny.csv")
    assert list(written["status"]) == ["ok", "ok"]  # each row reached the CSV before the next

    second = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="second")
    rows, csv = run_study(study, second, tmp_path, tracking)
    assert len(second.calls) == 2  # only the two runs the interruption left out
    assert [c.seed for c in second.configs] == [r["seed"] for r in rows[2:]]
    assert run_ids(study, rows) == ["first1", "first2", "second1", "second2"]
    table = read_csv(csv)
    assert run_ids(study, table.to_dict("records")) == run_ids(study, rows)
    assert list(table["status"]) == ["ok"] * 4
    assert list(table["seed"]) == [r["seed"] for r in rows]

    third = RecordingTrainer(tmp_path, lambda c: 1.0, pde_scores, name="third")
    run_study(study, third, tmp_path, tracking)
    assert third.calls == []  # everything finished: nothing to train
    assert run_ids(study, read_csv(csv).to_dict("records")) == run_ids(study, rows)

    other = RecordingTrainer(tmp_path, lambda c: 1.0, pde_scores, name="other")
    rows, _ = run_study(study, other, tmp_path, tracking, steps=6)
    assert len(other.calls) == 4  # other steps: other runs, none reused
    assert {r["steps"] for r in rows} == {6}


@pytest.mark.parametrize("study", STUDIES)
def test_a_failed_run_is_retried_and_an_interrupted_retry_loses_no_row(
    study: str, tmp_path: Path, tracking: str
) -> None:
    def fail_the_second(config: TrainConfig) -> float:
        if len(first.calls) == 2:
            raise RuntimeError("loss is nan")
        return 1.0

    first = RecordingTrainer(tmp_path, fail_the_second, pde_scores, name="first")
    rows, csv = run_study(study, first, tmp_path, tracking)
    failed = "failed: RuntimeError: loss is nan"
    assert [r["status"] for r in rows] == ["ok", failed, "ok", "ok"]

    def interrupt(config: TrainConfig) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_study(study, RecordingTrainer(tmp_path, interrupt, pde_scores), tmp_path, tracking)
    assert list(read_csv(csv)["status"]) == ["ok", failed, "ok", "ok"]  # nothing lost

    second = RecordingTrainer(tmp_path, lambda c: 1.0, pde_scores, name="second")
    rows, csv = run_study(study, second, tmp_path, tracking)
    assert len(second.calls) == 1 and second.configs[0].seed == rows[1]["seed"]
    assert run_ids(study, rows) == ["first1", "second1", "first3", "first4"]
    assert list(read_csv(csv)["status"]) == ["ok"] * 4


CLI_ARGS = {
    "transfer": ["transfer", "--models", "roma,don-pi", "--seeds", "0"],
    "scaling": ["scaling", "--models", "gcn,roma", "--width-factors", "1,2", "--seeds", "0"],
    "noise": ["noise", "--models", "gcn,roma", "--sigmas", "0", "--seeds", "0"],
}
#: The tuning file's choice at the budget's 120 steps; roma was tuned at 60 steps only.
TUNED = {"gcn": 3e-4, "don-pi": 1e-3}
CARD_LR = 2e-3


@pytest.fixture()
def budget_cards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cards ``km-budget`` (budget 120 steps, lr 2e-3, warm-up 12, and a tuning file) and
    ``km-nobudget`` (none); returns the leaderboards folder."""
    card = load_yaml(task_card_path("km-tiny"))
    cards = tmp_path / "cards"
    cards.mkdir()
    budget = {"steps": 120, "lr": CARD_LR, "warmup_steps": 12}
    (cards / "km-budget.yaml").write_text(yaml.safe_dump({**card, "name": "km-budget",
                                                          "budget": budget}))  # fmt: skip
    no_budget = {k: v for k, v in card.items() if k != "budget"}
    (cards / "km-nobudget.yaml").write_text(yaml.safe_dump({**no_budget, "name": "km-nobudget"}))
    boards = tmp_path / "boards"
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(cards))
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(boards))
    budgets.write_tuning("km-budget", [
        {"model": "gcn", "lr": 3e-4, "steps": 120, "warmup_steps": 12, "seed": 0, "val_metric": 0.1},
        {"model": "gcn", "lr": 2e-3, "steps": 120, "warmup_steps": 12, "seed": 0, "val_metric": 0.2},
        {"model": "don-pi", "lr": 1e-3, "steps": 120, "warmup_steps": 12, "seed": 0, "val_metric": 0.1},
        {"model": "roma", "lr": 3e-4, "steps": 60, "warmup_steps": 6, "seed": 0, "val_metric": 0.1},
    ], boards)  # fmt: skip
    return boards


def study_cli(
    study: str, task: str, out_dir: Path, tracking: str, monkeypatch: pytest.MonkeyPatch,
    *extra: str,
) -> RecordingTrainer:  # fmt: skip
    """``roma-bench study <study> --task <task> ...`` with the recording trainer."""
    trainer = RecordingTrainer(out_dir.parent, lambda c: 1.0, pde_scores)
    monkeypatch.setattr("roma_bench.training.runs.train", trainer)
    argv = ["study", *CLI_ARGS[study], "--task", task, "--out-dir", str(out_dir),
            "--tracking-uri", tracking, *extra]  # fmt: skip
    assert main(argv) == 0
    assert trainer.calls
    return trainer


@pytest.mark.parametrize("study", STUDIES)
def test_a_study_trains_at_the_card_budget_with_each_models_tuned_rate(
    study: str, budget_cards: Path, tmp_path: Path, tracking: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    trainer = study_cli(study, "km-budget", tmp_path / "budget", tracking, monkeypatch)
    models = CLI_ARGS[study][2].split(",")
    expected = {model: TUNED.get(model, CARD_LR) for model in models}
    assert {c.steps for c in trainer.configs} == {120}
    assert {c.optim.warmup_steps for c in trainer.configs} == {12}
    assert {c.model_name: c.optim.lr for c in trainer.configs} == expected
    assert {c.early_stopping_patience for c in trainer.configs} == {None}  # as before
    # which rate each model used: the MLflow params, the markdown and every row
    parent = trainer.calls[0][1]["tags"]["mlflow.parentRunId"]
    params = mlflow.MlflowClient(tracking).get_run(parent).data.params
    assert params["lrs"] == ",".join(f"{m}={lr:g}" for m, lr in expected.items())
    md = next((tmp_path / "budget").glob("*.md")).read_text()
    assert "learning rate per model" in md
    assert all(f"{m}={lr:g}" in md for m, lr in expected.items())
    table = read_csv(next((tmp_path / "budget").glob("*.csv")))
    assert {(r["model"], r["lr"]) for r in table.to_dict("records")} == set(expected.items())

    trainer = study_cli(study, "km-budget", tmp_path / "steps", tracking, monkeypatch,
                        "--steps", "60")  # fmt: skip
    assert {c.steps for c in trainer.configs} == {60}  # --steps: the budget's shape over 60
    assert {c.optim.warmup_steps for c in trainer.configs} == {6}
    assert {c.model_name: c.optim.lr for c in trainer.configs} == expected  # the same rates


def test_set_overrides_the_budget_rate_and_a_card_without_a_budget_keeps_the_defaults(
    budget_cards: Path, tmp_path: Path, tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = study_cli("noise", "km-budget", tmp_path / "lr", tracking, monkeypatch,
                        "--set", "optim.lr=5e-4")  # fmt: skip
    assert {(c.steps, c.optim.warmup_steps, c.optim.lr) for c in trainer.configs} == {
        (120, 12, 5e-4)
    }
    trainer = study_cli("noise", "km-nobudget", tmp_path / "none", tracking, monkeypatch)
    default = TrainConfig(model_name="gcn", task="km-nobudget")
    assert {(c.steps, c.optim.warmup_steps, c.optim.lr) for c in trainer.configs} == {
        (default.steps, default.optim.warmup_steps, default.optim.lr)
    }


def test_a_rerun_with_fewer_seeds_keeps_the_old_csv_aside(tmp_path: Path, tracking: str) -> None:
    trainer = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="first")
    _, csv = run_study("noise", trainer, tmp_path, tracking)  # seeds 0, 1
    before = csv.read_text()
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=5)
    again = RecordingTrainer(tmp_path, lambda c: 1.0 + c.seed, pde_scores, name="again")
    run_noise_study(base, ["gcn"], sigmas=(0.0, 0.01), seeds=(0,), tracking_uri=tracking,
                    out_dir=tmp_path, train_fn=again, command="c")  # fmt: skip
    assert again.calls == []  # seed 0's rows were finished
    assert set(read_csv(csv)["seed"]) == {0}
    (backup,) = tmp_path.glob("noise-km-tiny.csv.*.bak")
    assert backup.read_text() == before  # seed 1's rows are not lost


@pytest.mark.parametrize("study", STUDIES)
def test_no_train_writes_the_outputs_of_the_finished_runs_only(
    study: str, tmp_path: Path, tracking: str
) -> None:
    interrupt_at_the_third_run(study, tmp_path, tracking)
    (tmp_path / f"{study}-km-tiny.md").unlink(missing_ok=True)
    idle = RecordingTrainer(tmp_path, lambda c: 1.0, pde_scores, name="idle")
    rows, csv = run_study(study, idle, tmp_path, tracking, train=False)
    assert idle.calls == []
    assert run_ids(study, rows) == ["first1", "first2"]
    assert list(read_csv(csv)["status"]) == ["ok", "ok"]
    assert csv.with_suffix(".md").is_file() and csv.with_suffix(".png").is_file()


def test_the_finetune_protocol_resumes_whole_chains(tmp_path: Path, tracking: str) -> None:
    """A finetune row is its pretrain → fine-tune → scratch chain: a chain cut short is
    trained again whole, a finished one is kept, and ``train=False`` trains nothing."""
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=5)

    def study(trainer: RecordingTrainer, train: bool = True):
        return run_transfer_study(base, ["gcn"], [0], protocol="finetune", pretrain_steps=2,
                                  finetune_steps=2, tracking_uri=tracking, out_dir=tmp_path,
                                  train_fn=trainer, command="c", train=train)  # fmt: skip

    def interrupt_the_fifth(config: TrainConfig) -> float:
        if len(first.calls) == 5:  # the second direction's fine-tune run
            raise KeyboardInterrupt
        return 1.0

    first = RecordingTrainer(tmp_path, interrupt_the_fifth, name="first")
    with pytest.raises(KeyboardInterrupt):
        study(first)
    csv = tmp_path / "transfer-finetune-km-tiny.csv"
    assert list(read_csv(csv)["status"]) == ["ok"]  # the first direction reached the CSV

    idle = RecordingTrainer(tmp_path, lambda c: 1.0, name="idle")
    rows, files = study(idle, train=False)
    assert idle.calls == [] and [r["finetune_run"] for r in rows] == ["first2"]
    assert files.md.is_file() and files.png.is_file()

    second = RecordingTrainer(tmp_path, lambda c: 0.5 if c.init_checkpoint else 1.0, name="second")
    rows, _ = study(second)
    assert [c.steps for c in second.configs] == [2, 2, 4]  # one chain, whole
    assert [(r["source"], r["finetune_run"], r["status"]) for r in rows] == [
        ("forecast", "first2", "ok"), ("effective", "second2", "ok")
    ]  # fmt: skip
    assert rows[1]["positive_transfer"] == pytest.approx(1.0)
    assert list(read_csv(csv)["lr"]) == [base.optim.lr] * 2


def test_the_recorded_command_is_the_one_that_trains(monkeypatch) -> None:
    from roma_bench.studies.common import current_command

    argv = ["/x/bin/roma-bench", "study", "noise", "--task", "km-tiny", "--no-train"]
    monkeypatch.setattr("sys.argv", argv)
    assert current_command() == "roma-bench study noise --task km-tiny"


def test_two_rows_of_one_training_config_train_it_once(tmp_path: Path, tracking: str) -> None:
    """The data axis's fraction-1 arm and the cross-card axis's run of the same card are one
    ``roma-bench train`` command: trained once, both rows carry its result."""
    trainer = RecordingTrainer(tmp_path, lambda c: 0.5 if c.train_nodes < 1 else 0.25)
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=5)
    rows, _, files = run_scaling_study(
        base, ["gcn"], width_factors=(), data_fractions=(0.5, 1.0), data_tasks=("km-tiny",),
        seeds=(0,), tracking_uri=tracking, out_dir=tmp_path, train_fn=trainer, command="c",
    )  # fmt: skip
    assert [c.train_nodes for c in trainer.configs] == [0.5, 1.0]  # not a third run
    by_axis = {(r["axis"], r["train_nodes"]): r for r in rows}
    whole, card = by_axis[("data", 1.0)], by_axis[("cards", 1.0)]
    assert card["run_id"] == whole["run_id"] == "run2"
    assert card["error"] == whole["error"] == 0.25 and card["status"] == "ok"
    assert card["nodes"] == whole["nodes"] + 128 + 256  # the card's nodes, not its training nodes
    assert list(read_csv(files.csv)["run_id"]) == ["run1", "run2", "run2"]


def test_the_cross_card_runs_train_at_each_cards_own_budget(
    budget_cards: Path, tmp_path: Path, tracking: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--data-tasks``: a card's run is its board's run (the card's steps, warm-up and
    tuned rate), not a run at ``--task``'s budget; the summary names each card's budget.
    With ``--steps``, every card trains that many steps, each in its own schedule shape."""
    trainer = study_cli("scaling", "km-nobudget", tmp_path / "cards", tracking, monkeypatch,
                        "--data-tasks", "km-budget,km-nobudget")  # fmt: skip
    default = TrainConfig(model_name="gcn", task="km-nobudget")
    steps, warmup, lr = default.steps, default.optim.warmup_steps, default.optim.lr
    runs = {(c.task, c.model_name, c.steps, c.optim.warmup_steps, c.optim.lr)
            for c in trainer.configs}  # fmt: skip
    assert runs == {
        ("km-nobudget", "gcn", steps, warmup, lr), ("km-nobudget", "roma", steps, warmup, lr),
        ("km-budget", "gcn", 120, 12, TUNED["gcn"]), ("km-budget", "roma", 120, 12, CARD_LR),
    }  # fmt: skip
    md = next((tmp_path / "cards").glob("*.md")).read_text()
    assert (
        f"cross-card runs per card (km-budget: 120 steps, warm-up 12, gcn={TUNED['gcn']:g}, "
        f"roma={CARD_LR:g}" in md
    )
    trainer = study_cli("scaling", "km-nobudget", tmp_path / "steps", tracking, monkeypatch,
                        "--data-tasks", "km-budget,km-nobudget", "--steps", "60")  # fmt: skip
    runs = {(c.task, c.model_name, c.steps, c.optim.warmup_steps, c.optim.lr)
            for c in trainer.configs}  # fmt: skip
    assert runs == {
        ("km-nobudget", "gcn", 60, warmup, lr), ("km-nobudget", "roma", 60, warmup, lr),
        ("km-budget", "gcn", 60, 6, TUNED["gcn"]), ("km-budget", "roma", 60, 6, CARD_LR),
    }  # fmt: skip
