"""A study run that the task's board already trained is read from its result file, not retrained.

The board run must have the study run's exact ``roma-bench train`` command (width overrides
equal to the size preset count as none) on the same data, and have finished with scores;
anything else trains (here: a stand-in trainer that records what it was asked to train).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from study_doubles import RecordingTrainer

from roma_bench.data.store import TaskStore
from roma_bench.leaderboard import RunRecord
from roma_bench.results import results_dir, write_result
from roma_bench.studies import resume
from roma_bench.studies.board_runs import board_twin
from roma_bench.studies.common import model_config, read_csv
from roma_bench.studies.scaling import run_scaling_study, width_overrides
from roma_bench.training.config import OptimConfig, TrainConfig
from roma_bench.training.report import command_for


@pytest.fixture
def boards(km_tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A leaderboards folder of its own, and the session's km-tiny store as the task data."""
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_LEADERBOARDS", str(tmp_path / "leaderboards"))
    return tmp_path / "leaderboards"


def base_config() -> TrainConfig:
    return TrainConfig(
        model_name="gcn", task="km-tiny", steps=40, optim=OptimConfig(lr=0.01, warmup_steps=2)
    )


def width_one(seed: int) -> TrainConfig:
    """The scaling study's width-factor-1 gcn run: every width set, to the preset's value."""
    base = base_config()
    return model_config(base, "gcn", None, seed=seed,
                        model={**width_overrides("gcn", "tiny", 1.0)})  # fmt: skip


def board_record(seed: int, store: Path, **change) -> RunRecord:
    """The result file a board run of ``gcn`` at ``base_config()``'s budget writes."""
    plain = base_config().model_copy(update={"seed": seed})
    record = RunRecord(
        run_id=f"board{seed}", model="gcn", size="tiny", seed=seed, learning_task="forecast",
        task_version="2.0", data_checksum=TaskStore(store).checksum, status="FINISHED",
        start_time=1, num_parameters=1234, train_time=9.0, peak_memory_mb=1.0,
        hardware="test", command=command_for(plain), steps=plain.steps,
        metrics={"delta_nrmse": 0.25 + seed, "nrmse": 0.01}, end_time=2,
    )  # fmt: skip
    return dataclasses.replace(record, **change)


def on_board(record: RunRecord, boards: Path) -> Path:
    """Write ``record`` as a result file of the km-tiny board under ``boards``."""
    return write_result(record, "km-tiny", results_dir("km-tiny", boards))


def test_the_width_one_run_is_the_board_run(boards: Path, km_tiny_store: Path) -> None:
    assert "--set model.width" in command_for(width_one(0))  # the overrides are spelled out
    on_board(board_record(0, km_tiny_store), boards)
    twin = board_twin(width_one(0))
    assert twin is not None
    assert (twin.run_id, twin.steps_done, twin.num_parameters) == ("board0", 40, 1234)
    assert twin.metrics["delta_nrmse"] == 0.25
    assert board_twin(width_one(1)) is None  # no board run of seed 1


def test_noise_at_the_cards_sigma_is_the_cards_run(boards: Path, km_tiny_store: Path) -> None:
    on_board(board_record(0, km_tiny_store), boards)
    clean = base_config().model_copy(update={"seed": 0, "noise": 0.0})  # km-tiny's σ is 0
    assert "--set noise=0.0" in command_for(clean)
    assert board_twin(clean) is not None
    assert board_twin(clean.model_copy(update={"noise": 0.01})) is None


@pytest.mark.parametrize(
    "change",
    [
        {"data_checksum": "0" * 64},  # other data
        {"status": "FAILED"},
        {"metrics": {}},
        {"external": True, "predictions_sha256": "ab"},
        {"verified": False},
        {"command": command_for(base_config().model_copy(update={"steps": 80}))},
    ],
    ids=["other-data", "failed", "no-scores", "external", "unverified", "other-command"],
)
def test_a_board_run_that_differs_is_not_reused(
    boards: Path, km_tiny_store: Path, change: dict
) -> None:
    on_board(board_record(0, km_tiny_store, **change), boards)
    assert board_twin(width_one(0)) is None


def test_early_stopping_runs_are_never_matched(boards: Path, km_tiny_store: Path) -> None:
    on_board(board_record(0, km_tiny_store), boards)
    assert board_twin(width_one(0).model_copy(update={"early_stopping_patience": 3})) is None


def test_a_study_reuses_the_board_run_and_trains_the_others(
    boards: Path, km_tiny_store: Path, tmp_path: Path, tracking: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    on_board(board_record(0, km_tiny_store), boards)
    trained: list[TrainConfig] = []
    stand_in = RecordingTrainer(tmp_path, lambda config: 0.5)

    def train_in_study(config: TrainConfig, train_fn, **kwargs):
        assert train_fn is None  # the harness's trainer: a board run can stand for it
        trained.append(config)
        return stand_in(config)

    monkeypatch.setattr(resume, "train_in_study", train_in_study)
    rows, _, files = run_scaling_study(
        base_config(), ["gcn"], width_factors=(0.5, 1.0), seeds=(0, 1), tracking_uri=tracking,
        out_dir=tmp_path / "studies", command="c",
    )  # fmt: skip
    by_run = {(r["width_factor"], r["seed"]): r for r in rows}
    assert by_run[(1.0, 0)]["run_id"] == "board0"
    assert by_run[(1.0, 0)]["error"] == 0.25 and by_run[(1.0, 0)]["num_parameters"] == 1234
    assert sorted((c.model["width"] != 152, c.seed) for c in trained) == [
        (False, 1), (True, 0), (True, 1)
    ]  # fmt: skip
    assert all(r["status"] == "ok" for r in rows)
    assert "board0" in set(read_csv(files.csv)["run_id"])


def test_a_study_with_its_own_trainer_trains_every_run(
    boards: Path, km_tiny_store: Path, tmp_path: Path, tracking: str
) -> None:
    on_board(board_record(0, km_tiny_store), boards)
    trainer = RecordingTrainer(tmp_path, lambda config: 0.5)
    rows, _, _ = run_scaling_study(
        base_config(), ["gcn"], width_factors=(0.5, 1.0), seeds=(0,), tracking_uri=tracking,
        out_dir=tmp_path / "studies", command="c", train_fn=trainer,
    )  # fmt: skip
    assert len(trainer.configs) == 2
    assert "board0" not in {r["run_id"] for r in rows}
