"""Several sweep workers on one storage: exact totals, no duplicates, resume after a kill.

The workers are real processes on a real journal file (and a real PostgreSQL server when
``ROMA_BENCH_TEST_POSTGRES_URL`` is set); the objective is a cheap quadratic so that the
test is about the coordination, not the training (``test_sweep_cli.py`` trains).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from roma_bench.sweeps.storage import ClaimLock, open_storage, storage_kind
from roma_bench.sweeps.worker import (
    abandoned_reason,
    finished_count,
    run_worker,
)

WORKER = textwrap.dedent(
    """
    import sys, time, pathlib
    import optuna
    from roma_bench.sweeps.storage import ClaimLock, open_storage
    from roma_bench.sweeps.worker import run_worker

    url, name, n_trials, hang_on, marker = sys.argv[1:6]
    storage, url = open_storage(url, name)
    lock = ClaimLock(url, name)
    with lock.hold():
        optuna.create_study(study_name=name, storage=storage, load_if_exists=True)

    def objective(trial):
        x = trial.suggest_float("x", -10, 10)
        for step in range(3):
            trial.report((x - 2) ** 2 + 1.0 / (step + 1), step)
        if trial.number == int(hang_on):
            pathlib.Path(marker).write_text(str(trial.number))
            time.sleep(600)
        time.sleep(0.05)
        return (x - 2) ** 2

    summary = run_worker(
        name, storage, lock, objective, int(n_trials),
        sampler_factory=lambda k: optuna.samplers.TPESampler(seed=k, n_startup_trials=3),
        pruner=optuna.pruners.NopPruner(), heartbeat_interval=0.5, stale_after=30.0,
    )
    print("RAN", len(summary.completed))
    """
)


def _start_worker(url: str, name: str, n_trials: int, hang_on: int = -1, marker: str = "-"):
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, name, str(n_trials), str(hang_on), marker],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _check_exact(url: str, name: str, n_trials: int) -> list[optuna.trial.FrozenTrial]:
    storage, _ = open_storage(url, name)
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(trials))), "trial numbers are not 0..n-1"
    counted = [t for t in trials if not t.user_attrs.get("abandoned")]
    assert len(counted) == n_trials, f"{len(counted)} trials recorded, {n_trials} asked"
    assert all(t.state == TrialState.COMPLETE for t in counted)
    xs = [t.params["x"] for t in counted]
    assert len(set(xs)) == len(xs), "two trials drew the same parameters"
    return trials


def _two_workers(url: str, name: str, n_trials: int) -> None:
    workers = [_start_worker(url, name, n_trials) for _ in range(2)]
    outputs = [w.communicate(timeout=240) for w in workers]
    for worker, (_out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-2000:]
    ran = [int(out.split("RAN")[-1]) for out, _ in outputs]
    assert sum(ran) == n_trials, f"workers report {ran} trials, {n_trials} asked"
    _check_exact(url, name, n_trials)


def test_two_worker_processes_on_one_journal_file_run_exactly_n_trials(tmp_path: Path) -> None:
    _two_workers(str(tmp_path / "study.journal"), "two-workers", 12)


def test_killed_study_resumes_and_reruns_the_abandoned_trial(tmp_path: Path) -> None:
    url, name, marker = str(tmp_path / "study.journal"), "killed", tmp_path / "hanging"
    victim = _start_worker(url, name, 6, hang_on=2, marker=str(marker))
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert victim.poll() is None, victim.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "worker never reached trial 2"
        time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)

    storage, url = open_storage(url, name)
    before = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert [t.state for t in before] == [TrialState.COMPLETE] * 2 + [TrialState.RUNNING]
    # The resumed worker sees a dead process on this host: trial 2 is abandoned and retried.
    assert "is gone" in abandoned_reason(before[2], stale_after=3600)

    def objective(trial: optuna.Trial) -> float:
        return (trial.suggest_float("x", -10, 10) - 2) ** 2

    lock = ClaimLock(url, name)
    summary = run_worker(
        name,
        storage,
        lock,
        objective,
        6,
        sampler_factory=lambda k: optuna.samplers.TPESampler(seed=k),
        pruner=optuna.pruners.NopPruner(),
    )
    assert summary.reaped == [2]
    trials = _check_exact(url, name, 6)
    abandoned = [t for t in trials if t.user_attrs.get("abandoned")]
    assert [t.number for t in abandoned] == [2] and abandoned[0].state == TrialState.FAIL
    retry = [t for t in trials if t.user_attrs.get("retry_of") == 2]
    assert len(retry) == 1 and retry[0].params == before[2].params
    assert finished_count(optuna.load_study(study_name=name, storage=storage)) == 6


def test_failing_trials_are_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    url = str(tmp_path / "fail.journal")
    storage, url = open_storage(url, "fail")
    optuna.create_study(study_name="fail", storage=storage)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 1:
            raise FloatingPointError("loss is nan at step 3")
        if trial.number == 2:
            return float("nan")
        if trial.number == 3:
            raise optuna.TrialPruned()
        return x

    summary = run_worker(
        "fail",
        storage,
        ClaimLock(url, "fail"),
        objective,
        5,
        sampler_factory=lambda k: optuna.samplers.RandomSampler(seed=k),
        pruner=optuna.pruners.NopPruner(),
    )
    assert (summary.completed, summary.failed, summary.pruned) == ([0, 4], [1, 2], [3])
    trials = optuna.load_study(study_name="fail", storage=storage).get_trials()
    assert trials[1].user_attrs["error"] == "FloatingPointError: loss is nan at step 3"
    assert trials[2].user_attrs["error"] == "objective returned nan"


def test_storage_urls_are_recognised() -> None:
    assert storage_kind("runs/x.journal") == "journal"
    assert storage_kind("journal:/tmp/x.log") == "journal"
    assert storage_kind("postgresql+psycopg2://u:p@127.0.0.1/db") == "postgresql"
    assert storage_kind("postgres://u@h/db") == "postgresql"
    assert storage_kind("sqlite:///x.db") == "sqlite"
    with pytest.raises(ValueError, match="unsupported scheme 'redis'"):
        storage_kind("redis://localhost")


@pytest.mark.server
def test_two_workers_against_postgresql() -> None:
    url = os.environ.get("ROMA_BENCH_TEST_POSTGRES_URL")
    if not url:
        pytest.skip(
            "ROMA_BENCH_TEST_POSTGRES_URL is not set: no PostgreSQL server to test against "
            "(.ci/run starts one on 127.0.0.1 and sets it)"
        )
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.fail(
            "ROMA_BENCH_TEST_POSTGRES_URL is set but the PostgreSQL driver is missing: "
            "pip install psycopg2-binary (part of the dev extra)"
        )
    _two_workers(url, f"pg-{uuid.uuid4().hex[:8]}", 8)
