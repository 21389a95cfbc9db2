"""Stale RUNNING runs: runs whose process died without closing them are marked FAILED.

Every run opened by :class:`~roma_bench.tracking.runs.TrackedRun` carries the tags
``roma.host``, ``roma.pid`` and ``roma.heartbeat`` (Unix seconds, refreshed whenever it
logs metrics). When a process next opens the store, each RUNNING run is checked:

- on this host: its process is gone (``kill(pid, 0)`` fails) → FAILED;
- on another host (a shared server): its heartbeat is older than ``ROMA_BENCH_STALE_AFTER``
  seconds (default 7200) → FAILED.

The failure is written to ``roma.failure``; such a run can still be resumed
(``roma-bench train --resume``), which reopens it. Runs without these tags (not ours) are
never touched.
"""

from __future__ import annotations

import os
import socket
import time

from roma_bench.tracking.tags import tag

DEFAULT_STALE_AFTER_S = 7200.0


def process_alive(pid: int) -> bool:
    """True when a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def stale_reason(tags: dict[str, str], now: float, host: str, stale_after: float) -> str | None:
    """Why a RUNNING run with these tags is stale, or None when it may still be running."""
    run_host, pid, beat = tags.get(tag("host")), tags.get(tag("pid")), tags.get(tag("heartbeat"))
    if run_host is None or pid is None:
        return None
    if run_host == host:
        if int(pid) != os.getpid() and not process_alive(int(pid)):
            return f"process {pid} on {host} ended without closing the run"
        return None
    if beat is not None and now - float(beat) > stale_after:
        return f"no heartbeat from {run_host} (pid {pid}) for {now - float(beat):.0f} s"
    return None


def fail_stale_runs(client, experiment_ids: list[str] | None = None) -> list[str]:
    """Mark stale RUNNING runs FAILED (see the module docstring); returns their run ids."""
    from mlflow.entities import RunTag, ViewType

    if experiment_ids is None:
        experiments = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
        experiment_ids = [e.experiment_id for e in experiments]
    if not experiment_ids:
        return []
    stale_after = float(os.environ.get("ROMA_BENCH_STALE_AFTER", DEFAULT_STALE_AFTER_S))
    now, host, failed = time.time(), socket.gethostname(), []
    runs = client.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'")
    for run in runs:
        reason = stale_reason(run.data.tags, now, host, stale_after)
        if reason is None:
            continue
        client.log_batch(run.info.run_id, tags=[
            RunTag(tag("status"), "FAILED"), RunTag(tag("failure"), f"stale: {reason}"),
        ])  # fmt: skip
        client.set_terminated(run.info.run_id, status="FAILED")
        failed.append(run.info.run_id)
    return failed
