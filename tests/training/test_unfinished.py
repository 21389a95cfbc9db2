"""A resumable run cut off halfway continues from its last checkpoint when trained again."""

from __future__ import annotations

import json
from pathlib import Path

import harness_doubles as doubles
import mlflow
import pytest
import torch

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.tracking.environment import git_commit
from roma_bench.training import unfinished
from roma_bench.training.checkpointing import MODEL_FILE, STATE_FILE
from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainingJob, run_training

FIELDS = {"model_name": "harness-linear", "task": "syn-tiny", "steps": 8, "device": "cpu",
          "val_every": 2, "checkpoint_every": 3, "plots": False}  # fmt: skip


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "runs"


def _train(config: TrainConfig, uri: str, resumable: bool = True):
    return run_training(TrainingJob(config, resumable=resumable), tracking_uri=uri, progress=False)


def _weights(folder) -> dict[str, torch.Tensor]:
    return read_checkpoint(folder / MODEL_FILE)["state_dict"]


def _killed(runs: Path, monkeypatch, kill_at: int) -> tuple[str, TrainConfig, Path, Path, str]:
    """A resumable run of :data:`FIELDS` killed before step ``kill_at``: ``(tracking URI,
    config, its unfinished entry, its run folder, its MLflow run id)``."""
    uri = f"sqlite:///{runs / 'mlflow.db'}"
    config = TrainConfig(**FIELDS)
    doubles.install(monkeypatch, kill_at=kill_at)
    with pytest.raises(doubles.SimulatedKillError):
        _train(config, uri)
    (entry,) = (runs / unfinished.UNFINISHED_DIR).glob("*.json")
    folder = Path(json.loads(entry.read_text())["out_dir"])
    return uri, config, entry, folder, json.loads((folder / "run.json").read_text())["run_id"]


def test_a_killed_run_continues_from_its_last_checkpoint_and_ends_as_an_uninterrupted_one(
    runs, monkeypatch
):
    # dies before step 5: its last checkpoint is after step 3
    uri, config, entry, folder, killed_run = _killed(runs, monkeypatch, kill_at=5)
    assert json.loads(entry.read_text())["commit"] == git_commit()

    opened = doubles.install(monkeypatch)
    resumed = _train(config, uri)
    assert resumed.status == "FINISHED" and resumed.out_dir.resolve() == folder
    assert resumed.run_id == killed_run  # the same MLflow run, now finished
    run = mlflow.MlflowClient(uri).get_run(killed_run)
    assert run.info.status == "FINISHED"
    assert run.data.tags["roma.started_at_commit"] == run.data.tags["git_commit"]
    assert "roma.failure" not in run.data.tags  # why it stopped is kept as history
    assert run.data.tags["roma.interrupted"].startswith("SimulatedKillError")
    assert opened["syn-tiny"].served == [3, 4, 5, 6, 7]  # steps 0-2 were not trained again
    assert not entry.exists()  # nothing left to continue

    doubles.install(monkeypatch)
    straight = _train(config, f"sqlite:///{runs / 'other.db'}", resumable=False)
    assert resumed.best_val_loss == straight.best_val_loss
    assert resumed.steps_done == straight.steps_done == 8
    for name, weight in _weights(straight.out_dir).items():
        assert torch.equal(_weights(resumed.out_dir)[name], weight), name

    again = doubles.install(monkeypatch)
    rerun = _train(config, uri)  # finished and released: a rerun is a new run from step 0
    assert rerun.run_id != resumed.run_id and again["syn-tiny"].served[0] == 0


def test_a_run_continued_with_other_code_says_so_and_keeps_its_first_commit(
    runs, monkeypatch, capsys
):
    uri, config, entry, folder, run_id = _killed(runs, monkeypatch, kill_at=5)
    entry.write_text(json.dumps({"out_dir": str(folder), "commit": "0" * 40}))
    doubles.install(monkeypatch)
    assert _train(config, uri).run_id == run_id
    assert "that run started at commit 000000000000" in capsys.readouterr().err
    tags = mlflow.MlflowClient(uri).get_run(run_id).data.tags
    assert tags["roma.started_at_commit"] == "0" * 40 and tags["git_commit"] == git_commit()


def test_a_run_killed_before_its_first_checkpoint_restarts_in_the_same_run(runs, monkeypatch):
    uri, config, _, folder, killed_run = _killed(runs, monkeypatch, kill_at=1)
    assert not (folder / STATE_FILE).exists()
    opened = doubles.install(monkeypatch)
    result = _train(config, uri)
    assert result.out_dir.resolve() == folder and opened["syn-tiny"].served[0] == 0
    assert result.run_id == killed_run


def test_another_configuration_or_store_does_not_continue_the_run(runs, monkeypatch):
    uri, config, entry, _, _ = _killed(runs, monkeypatch, kill_at=5)
    for other, other_uri in ((TrainConfig(**{**FIELDS, "seed": 1}), uri),
                             (config, f"sqlite:///{runs / 'other.db'}")):  # fmt: skip
        opened = doubles.install(monkeypatch)
        assert _train(other, other_uri).status == "FINISHED"
        assert opened["syn-tiny"].served[0] == 0
    assert entry.exists()  # still there for the configuration it names


def test_a_folder_whose_run_left_the_store_trains_again_with_a_warning(runs, monkeypatch, capsys):
    uri, config, _, _, run_id = _killed(runs, monkeypatch, kill_at=5)
    mlflow.MlflowClient(uri).delete_run(run_id)  # deleted in the UI; the folder stays
    opened = doubles.install(monkeypatch)
    assert _train(config, uri).status == "FINISHED"
    assert opened["syn-tiny"].served[0] == 0
    assert f"its MLflow run {run_id} was deleted" in capsys.readouterr().err


def test_info_lists_the_runs_a_rerun_would_continue(runs, monkeypatch, capsys):
    from roma_bench.cli import main

    uri, config, _, folder, _ = _killed(runs, monkeypatch, kill_at=5)
    (run,) = unfinished.unfinished_runs()
    assert (run.folder, run.model, run.task, run.seed) == (folder, "harness-linear", "syn-tiny", 0)
    assert (run.step, run.steps, run.training_now) == (3, 8, False)
    with unfinished.claim(config, uri):
        assert unfinished.unfinished_runs()[0].training_now
    capsys.readouterr()
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "unfinished runs (1; a rerun of their command continues them):" in out
    assert f"harness-linear on syn-tiny seed 0: step 3 of 8, interrupted ({folder})" in out
    assert main(["info", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["unfinished_runs"]
    assert [(r["folder"], r["step"]) for r in listed] == [(str(folder), 3)]


def test_a_claim_held_by_another_holder_is_not_given_twice(tmp_path, monkeypatch):
    monkeypatch.setattr(unfinished, "CLAIM_WAIT_SECONDS", 0.1)
    config = TrainConfig(**FIELDS)
    with unfinished.claim(config, "sqlite:///a.db", tmp_path) as first:
        assert first is not None and first.folder is None
        with unfinished.claim(config, "sqlite:///a.db", tmp_path) as second:
            assert second is None  # the same configuration is training right now
        with unfinished.claim(config, "sqlite:///b.db", tmp_path) as elsewhere:
            assert elsewhere is not None  # another store: another key
        run_folder = tmp_path / "run"
        run_folder.mkdir()
        (run_folder / "run.json").write_text("{}")
        first.register(run_folder)
    with unfinished.claim(config, "sqlite:///a.db", tmp_path) as later:
        assert later.folder == run_folder.resolve()
        later.release()
    with unfinished.claim(config, "sqlite:///a.db", tmp_path) as released:
        assert released.folder is None


@pytest.mark.parametrize("text", ["{not json", '{"out_dir": "/nowhere/at/all"}', "[]"])
def test_a_damaged_or_dangling_entry_means_a_new_run(tmp_path, text):
    config = TrainConfig(**FIELDS)
    key = unfinished.resume_key(config, "u")
    (tmp_path / unfinished.UNFINISHED_DIR).mkdir()
    (tmp_path / unfinished.UNFINISHED_DIR / f"{key}.json").write_text(text)
    with unfinished.claim(config, "u", tmp_path) as held:
        assert held is not None and held.folder is None


def test_the_key_names_the_configuration_and_the_store():
    config = TrainConfig(**FIELDS)
    key = unfinished.resume_key(config, "u")
    assert key == unfinished.resume_key(TrainConfig(**FIELDS), "u") and len(key) == 24
    assert key != unfinished.resume_key(config, "v")
    assert key != unfinished.resume_key(TrainConfig(**{**FIELDS, "steps": 9}), "u")


def test_boards_studies_and_budget_checks_train_resumable_jobs(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from roma_bench import budgets, results
    from roma_bench.studies import common

    jobs: list[TrainingJob] = []

    def record(job, **_):
        jobs.append(job)
        return SimpleNamespace(status="FINISHED", checkpoint=tmp_path / "model.safetensors")

    monkeypatch.setattr(results, "run_trainings", lambda js, **_: jobs.extend(js) or [])
    results.run_leaderboard("km-tiny", ["gcn"], seeds=1, folder=tmp_path)
    monkeypatch.setattr(budgets, "run_training", record)
    budgets.tracked_runner(None)(TrainConfig(**FIELDS))
    monkeypatch.setattr(common, "run_training", record)
    common.train_in_study(TrainConfig(**FIELDS), None, tracking_uri=None, parent=None,
                          study="noise", run_name="r")  # fmt: skip
    assert len(jobs) == 3 and all(job.resumable for job in jobs)


def test_a_long_budget_run_checkpoints_every_few_hundred_steps():
    from roma_bench import budgets

    long = budgets.budget_config("km-tiny", "gcn", budgets.Budget(16000, 1e-2, 800), seed=0)
    assert long.checkpoint_every == budgets.CHECKPOINT_EVERY < long.steps
    short = budgets.budget_config("km-tiny", "gcn", budgets.Budget(200, 1e-2, 10), seed=0)
    assert short.checkpoint_every == 200


def test_a_reopened_run_takes_this_sessions_tags_and_keeps_why_it_stopped(runs):
    from roma_bench.tracking.runs import TrackedRun

    uri = f"sqlite:///{runs / 'mlflow.db'}"
    with pytest.raises(RuntimeError), TrackedRun("syn-tiny", tracking_uri=uri,
                                                 tags={"roma.leaderboard": "old"}) as first:  # fmt: skip
        raise RuntimeError("host went away")
    again = TrackedRun("syn-tiny", tracking_uri=uri, run_id=first.run_id,
                       tags={"roma.leaderboard": "new", "mlflow.parentRunId": "p2"})  # fmt: skip
    again.finish("FINISHED")
    run = mlflow.MlflowClient(uri).get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["roma.leaderboard"] == "new"
    assert run.data.tags["mlflow.parentRunId"] == "p2"  # joins the new command's parent run
    assert run.data.tags["roma.interrupted"] == "RuntimeError: host went away"
    assert "roma.failure" not in run.data.tags


def test_a_continued_run_records_its_stop_for_the_boards_measured_time(runs, monkeypatch):
    """The stop runs from the killed process's last checkpoint to the continuation's start;
    a board reading the run leaves it out of its wall clock."""
    from roma_bench.leaderboard import RunRecord, active_intervals
    from roma_bench.training import loop

    clock = iter(range(10_000_000, 20_000_000, 1_000))  # ms, one second per call
    monkeypatch.setattr(loop, "epoch_ms", lambda: next(clock))
    uri, config, _, _, run_id = _killed(runs, monkeypatch, kill_at=5)
    saved = next(clock) - 1_000  # the checkpoint after step 3 took the last reading
    for _ in range(3_600):  # an hour passes before the rerun
        next(clock)
    doubles.install(monkeypatch)
    _train(config, uri)
    run = mlflow.MlflowClient(uri).get_run(run_id)
    (stop,) = json.loads(run.data.tags["roma.stopped_ms"])
    assert stop == [saved, saved + 3_602_000]
    record = RunRecord.from_run(run)
    assert record.stopped == [stop]
    record.start_time, record.end_time = saved - 5_000, saved + 3_700_000
    assert active_intervals(record) == [
        (saved - 5_000, saved),
        (saved + 3_602_000, saved + 3_700_000),
    ]

    doubles.install(monkeypatch)
    straight = _train(config, f"sqlite:///{runs / 'other.db'}", resumable=False)
    tags = mlflow.MlflowClient(f"sqlite:///{runs / 'other.db'}").get_run(straight.run_id).data.tags
    assert json.loads(tags["roma.stopped_ms"]) == []
