"""run_trainings: the one path that trains a list of configurations with their tags."""

from __future__ import annotations

from dataclasses import dataclass

from roma_bench.training.config import TrainConfig
from roma_bench.training.runs import TrainingJob, run_trainings


@dataclass
class _Parent:
    run_id: str = "parent-123"


@dataclass
class _Result:
    run_id: str
    status: str = "FINISHED"


def test_jobs_run_in_order_with_their_tags_nested_under_the_parent():
    calls, seen = [], []

    def train_fn(config, **kwargs):
        calls.append((config.model_name, kwargs))
        return _Result(run_id=f"run-{len(calls)}")

    jobs = [
        TrainingJob(TrainConfig(model_name=m, task="km-tiny", steps=3), {"roma.study": "x"}, m)
        for m in ("gcn", "roma")
    ]
    results = run_trainings(
        iter(jobs), tracking_uri="sqlite:///x.db", parent=_Parent(), train_fn=train_fn,
        progress=False, on_result=lambda job, result: seen.append((job.run_name, result.run_id)),
    )  # fmt: skip
    assert [r.run_id for r in results] == ["run-1", "run-2"]
    assert seen == [("gcn", "run-1"), ("roma", "run-2")]  # each reported before the next ran
    for _, kwargs in calls:
        assert kwargs["tags"] == {"mlflow.parentRunId": "parent-123", "roma.study": "x"}
        assert kwargs["nested"] and kwargs["tracking_uri"] == "sqlite:///x.db"
        assert "trial" not in kwargs  # only a sweep's job passes an Optuna trial


def test_without_a_parent_runs_are_top_level_and_a_trial_is_passed_through():
    calls = []

    def train_fn(config, **kwargs):
        calls.append(kwargs)
        return _Result(run_id="r")

    job = TrainingJob(TrainConfig(model_name="gcn", task="km-tiny"), trial="the-trial")
    run_trainings([job], tracking_uri=None, train_fn=train_fn)
    assert calls[0]["nested"] is False and calls[0]["tags"] == {}
    assert calls[0]["trial"] == "the-trial"
