"""One sweep worker: claim a trial, run it, record it; stop when the study has enough.

Several workers (processes, machines) run this loop against one storage. The total is
exact: under the :class:`~roma_bench.sweeps.storage.ClaimLock` a worker counts the trials
that are finished or running and only asks for a new one while that count is below
``n_trials``. A trial counts when it is COMPLETE, PRUNED, RUNNING, or FAIL from its own
error; a trial whose worker died (*abandoned*) is marked FAIL with the user attribute
``abandoned`` and does not count, and its parameters are queued again, so a killed study
resumes where it stopped.

A worker is alive while it writes a ``heartbeat`` user attribute (unix time) every
``heartbeat_interval`` seconds; a RUNNING trial is abandoned when its heartbeat is older
than ``stale_after`` seconds, or at once when its worker ran on this host and its process
is gone.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from roma_bench.sweeps.storage import ClaimLock

Objective = Callable[[Trial], float]
SamplerFactory = Callable[[int], optuna.samplers.BaseSampler]


@dataclass
class WorkerSummary:
    """What one worker did: the trial numbers it ran by final state, and abandoned ones it reaped."""

    completed: list[int] = field(default_factory=list)
    pruned: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    reaped: list[int] = field(default_factory=list)
    stopped_by: str = "n_trials"


def counts_toward_total(trial: FrozenTrial) -> bool:
    """Finished or running trials count; WAITING and abandoned FAIL trials do not."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get("abandoned")


def finished_count(study: optuna.Study) -> int:
    """Trials that reached COMPLETE, PRUNED or FAIL (own error) — what ``n_trials`` asks for."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state.is_finished() and counts_toward_total(t)
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def abandoned_reason(trial: FrozenTrial, stale_after: float, now: float | None = None) -> str:
    """Why a RUNNING trial's worker is considered dead, or ``""`` if it may be alive."""
    if trial.state != TrialState.RUNNING:
        return ""
    attrs = trial.user_attrs
    if attrs.get("worker_host") == socket.gethostname() and "worker_pid" in attrs:
        pid = int(attrs["worker_pid"])
        if pid != os.getpid() and not _pid_alive(pid):
            return f"worker process {pid} on {attrs['worker_host']} is gone"
    beat = attrs.get("heartbeat")
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()
    now = time.time() if now is None else now
    if beat is not None and now - float(beat) > stale_after:
        return f"no heartbeat for {now - float(beat):.0f} s (> {stale_after:.0f} s)"
    return ""


def reap_abandoned(study: optuna.Study, stale_after: float) -> list[int]:
    """Mark abandoned RUNNING trials FAIL (``abandoned`` attribute) and queue their parameters."""
    reaped = []
    storage = study._storage  # the public Study API has no "fail a foreign trial" call
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        reason = abandoned_reason(trial, stale_after)
        if not reason:
            continue
        try:
            storage.set_trial_user_attr(trial._trial_id, "abandoned", reason)
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except RuntimeError:  # finished meanwhile (its worker was alive after all)
            continue
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
        reaped.append(trial.number)
    return reaped


class Heartbeat:
    """Context manager: write ``heartbeat`` = unix time on ``trial`` every ``interval`` seconds."""

    def __init__(self, study: optuna.Study, trial: Trial, interval: float) -> None:
        self._storage = study._storage
        self._trial_id = trial._trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._storage.set_trial_user_attr(self._trial_id, "heartbeat", time.time())
            except Exception:  # the trial finished between the wait and the write
                return

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def claim_trial(
    study_name: str,
    storage: Any,
    lock: ClaimLock,
    n_trials: int,
    sampler_factory: SamplerFactory,
    pruner: optuna.pruners.BasePruner,
    stale_after: float,
    summary: WorkerSummary,
) -> tuple[optuna.Study, Trial] | None:
    """Under the lock: reap abandoned trials, count, and ask for trial ``k`` if ``count < n``.

    The sampler is re-created for every trial with seed ``sampler_factory(k)`` (``k`` = the
    new trial's number), so one seed gives one sequence of suggestions whatever the number
    of workers, and two workers never draw the same random start-up points.
    """
    with lock.hold():
        probe = optuna.load_study(study_name=study_name, storage=storage)
        summary.reaped += reap_abandoned(probe, stale_after)
        trials = probe.get_trials(deepcopy=False)
        if sum(counts_toward_total(t) for t in trials) >= n_trials:
            return None
        study = optuna.load_study(
            study_name=study_name,
            storage=storage,
            sampler=sampler_factory(len(trials)),
            pruner=pruner,
        )
        trial = study.ask()
        trial.set_user_attr("worker_host", socket.gethostname())
        trial.set_user_attr("worker_pid", os.getpid())
        trial.set_user_attr("heartbeat", time.time())
        return study, trial


def run_trial(study: optuna.Study, trial: Trial, objective: Objective) -> TrialState:
    """Run ``objective``; record COMPLETE, PRUNED or FAIL (with ``error``) and never raise."""
    try:
        value = float(objective(trial))
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
        return TrialState.PRUNED
    except Exception as err:
        trial.set_user_attr("error", f"{type(err).__name__}: {err}"[:2000])
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return TrialState.FAIL
    if not math.isfinite(value):
        trial.set_user_attr("error", f"objective returned {value}")
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return TrialState.FAIL
    study.tell(trial, value, skip_if_finished=True)
    return TrialState.COMPLETE


def run_worker(
    study_name: str,
    storage: Any,
    lock: ClaimLock,
    objective: Objective,
    n_trials: int,
    *,
    sampler_factory: SamplerFactory,
    pruner: optuna.pruners.BasePruner,
    timeout: float | None = None,
    heartbeat_interval: float = 20.0,
    stale_after: float = 120.0,
    callbacks: tuple[Callable[[optuna.Study, FrozenTrial], None], ...] = (),
) -> WorkerSummary:
    """Claim and run trials until ``n_trials`` count toward the total or ``timeout`` s pass."""
    summary = WorkerSummary()
    started = time.monotonic()
    while True:
        if timeout is not None and time.monotonic() - started >= timeout:
            summary.stopped_by = "timeout"
            return summary
        claimed = claim_trial(
            study_name, storage, lock, n_trials, sampler_factory, pruner, stale_after, summary
        )
        if claimed is None:
            return summary
        study, trial = claimed
        with Heartbeat(study, trial, heartbeat_interval):
            try:
                state = run_trial(study, trial, objective)
            except RuntimeError:  # another worker declared this one dead and failed the trial
                state = TrialState.FAIL
        {
            TrialState.COMPLETE: summary.completed,
            TrialState.PRUNED: summary.pruned,
            TrialState.FAIL: summary.failed,
        }[state].append(trial.number)
        frozen = study._storage.get_trial(trial._trial_id)
        for callback in callbacks:
            callback(study, frozen)
