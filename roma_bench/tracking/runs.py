"""MLflow runs: where they are stored, how a training run opens, logs and closes.

Default store (no ``--tracking-uri``, no ``MLFLOW_TRACKING_URI``): SQLite at
``<runs_dir>/mlflow.db`` (``./runs/mlflow.db``; ``ROMA_BENCH_RUNS`` moves it) with
artifacts under ``<runs_dir>/mlartifacts/``. Browse it with
``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db``. With a server
(``--tracking-uri http://host:5000``) artifacts go wherever the server stores them.

One experiment per task (named after the task). Tags written by the harness start
with ``roma.`` (see :data:`TAG_KEYS`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from roma_bench.errors import InputError
from roma_bench.locks import file_lock
from roma_bench.paths import default_tracking_uri, runs_dir
from roma_bench.tracking.stale import fail_stale_runs
from roma_bench.tracking.tags import tag


def quiet_mlflow_logging() -> None:
    """Silence database-migration and experiment-creation chatter."""
    for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent", "mlflow.store"):
        logging.getLogger(name).setLevel(logging.WARNING)


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else the embedded SQLite store.

    A SQLite store is created or migrated here, under a lock (:func:`prepare_sqlite_store`).
    """

    if not uri:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        runs_dir().mkdir(parents=True, exist_ok=True)
        uri = default_tracking_uri()
    prepare_sqlite_store(uri)
    return uri


_PREPARED: set[str] = set()
_STALE_CHECKED: set[str] = set()


def _fail_stale_runs_once(client: Any, uri: str) -> None:
    """Mark the store's stale RUNNING runs FAILED, once per process and store."""
    if uri in _STALE_CHECKED:
        return
    _STALE_CHECKED.add(uri)

    fail_stale_runs(client)


def prepare_sqlite_store(uri: str) -> None:
    """Create or migrate the SQLite store ``uri`` while holding ``<db>.lock`` (once per process).

    MLflow creates the tables of a new SQLite file (alembic migrations) the first time a
    process opens it; two processes doing that at once leave ``_alembic_tmp_*`` tables that
    break the store for good. Opening it here under an exclusive file lock makes the first
    process create it and the others find it complete. MLflow caches the opened store per
    URI, so later clients in this process reuse it without touching the schema. Stale
    RUNNING runs of dead processes are marked FAILED when a run is next opened
    (:func:`roma_bench.tracking.stale.fail_stale_runs`). Other URIs are left alone.
    """
    if not uri.startswith("sqlite:///") or uri in _PREPARED:
        return
    import mlflow

    db = Path(uri[len("sqlite:///") :])
    if db.exists() and not db.is_file():
        raise InputError(f"tracking store {db}: not a file")
    db.parent.mkdir(parents=True, exist_ok=True)
    quiet_mlflow_logging()
    with file_lock(db):
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
        _PREPARED.add(uri)


def local_artifact_root(tracking_uri: str) -> str | None:
    """Artifact folder URI next to a local SQLite store (``<db dir>/mlartifacts``); else None."""
    if not tracking_uri.startswith("sqlite:///"):
        return None
    db = Path(tracking_uri[len("sqlite:///") :])
    return (db.parent / "mlartifacts").resolve().as_uri()


def ensure_experiment(name: str, tracking_uri: str) -> str:
    """The id of experiment ``name`` in the store, created (with a local artifact root) if new."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, artifact_location=local_artifact_root(tracking_uri))
    except Exception:  # created concurrently by another process
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return experiment.experiment_id


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"optim": {"lr": 1e-3}} → {"optim.lr": "0.001"}`` (MLflow params are flat strings)."""
    flat: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)[:6000]
    return flat


class TrackedRun:
    """An open MLflow run: log params, metrics, tags and artifacts; close it with a status.

    Used as a context manager; an exception escaping the block marks the run FAILED
    (KILLED for Ctrl-C). ``liveness=False`` leaves out the host/pid/heartbeat tags, so the
    stale-run check (:mod:`roma_bench.tracking.stale`) never touches the run: for parent
    runs, which log nothing while their children train for hours.
    """

    def __init__(
        self,
        experiment: str,
        *,
        tracking_uri: str | None = None,
        run_name: str | None = None,
        nested: bool = False,
        tags: Mapping[str, str] | None = None,
        run_id: str | None = None,
        liveness: bool = True,
    ) -> None:
        import mlflow
        from mlflow.entities import RunTag

        quiet_mlflow_logging()
        active = mlflow.active_run()
        if nested and active is not None and tracking_uri is None:
            self.tracking_uri = mlflow.get_tracking_uri()
        else:
            self.tracking_uri = resolve_tracking_uri(tracking_uri)
            mlflow.set_tracking_uri(self.tracking_uri)
        self.client = mlflow.MlflowClient(self.tracking_uri)
        _fail_stale_runs_once(self.client, self.tracking_uri)
        alive = {tag("host"): socket.gethostname(), tag("pid"): str(os.getpid()),
                 tag("heartbeat"): f"{time.time():.0f}"} if liveness else {}  # fmt: skip
        if run_id is not None:
            # MLflow refuses to resume a run outside the process's active experiment (which an
            # earlier set_experiment, e.g. a sweep's, may have changed): select the run's own.
            earlier = self.client.get_run(run_id)
            mlflow.set_experiment(experiment_id=earlier.info.experiment_id)
            self._run = mlflow.start_run(run_id=run_id, nested=nested and active is not None)
            # the tags of this session (a continued board run joins the new board's parent);
            # why it stopped before is history now: ``failure`` becomes ``interrupted``
            fresh = {**dict(tags or {}), **alive}
            failure = earlier.data.tags.get(tag("failure"))
            if failure is not None:
                fresh[tag("interrupted")] = failure
                self.client.delete_tag(run_id, tag("failure"))
            if fresh:
                self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in fresh.items()])
        else:
            experiment_id = ensure_experiment(experiment, self.tracking_uri)
            if nested and active is not None:
                experiment_id = active.info.experiment_id
            self._run = mlflow.start_run(
                experiment_id=experiment_id,
                run_name=run_name,
                nested=nested and active is not None,
                tags={**dict(tags or {}), **alive},
            )
        self.run_id: str = self._run.info.run_id
        self.closed = False

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        existing = self.client.get_run(self.run_id).data.params
        fresh = [Param(k, v) for k, v in flatten(params).items() if k not in existing]
        for start in range(0, len(fresh), 100):
            self.client.log_batch(self.run_id, params=fresh[start : start + 100])

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        self.log_metric_series([(step or 0, dict(values))])

    def log_metric_series(self, series: list[tuple[int, Mapping[str, float]]]) -> None:
        """Log ``[(step, {name: value})]`` in few database round trips (and the heartbeat)."""
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        metrics = [
            Metric(name, float(value), now, int(step))
            for step, values in series
            for name, value in values.items()
        ]
        beat = [RunTag(tag("heartbeat"), f"{now / 1000:.0f}")]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start : start + 1000], tags=beat)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        run_tags = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        if run_tags:
            self.client.log_batch(self.run_id, tags=run_tags)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        """End the run with MLflow status FINISHED, FAILED or KILLED (used for pruned trials)."""
        import mlflow

        if self.closed:
            return
        self.closed = True
        active = mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            mlflow.end_run(status=status)
        else:
            self.client.set_terminated(self.run_id, status=status)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and not self.closed:
            # Ctrl-C is KILLED (resumable with --resume); any other exception is FAILED.
            status = "KILLED" if issubclass(exc_type, KeyboardInterrupt) else "FAILED"
            self.set_tags({tag("status"): status, tag("failure"): f"{exc_type.__name__}: {exc}"})
            self.finish(status)
        elif not self.closed:
            self.finish("FINISHED")


#: The MLflow tag that nests a run under its parent in the UI.
PARENT_RUN_TAG = "mlflow.parentRunId"


def child_tags(parent: TrackedRun | None) -> dict[str, str]:
    """The tags that nest a run under ``parent`` (none without a parent)."""
    return {} if parent is None else {PARENT_RUN_TAG: parent.run_id}


@contextlib.contextmanager
def parent_run(
    experiment: str,
    *,
    tracking_uri: str | None,
    run_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Iterator[TrackedRun]:
    """An open run that a batch of trainings (a study, a sweep) nests under.

    ``run_id`` reopens an existing parent (another sweep worker's). It ends FINISHED, or
    FAILED (KILLED for Ctrl-C) when the block raises, as every :class:`TrackedRun`. It
    carries no liveness tags (as parent runs never did): it logs nothing while its children
    train, so a heartbeat would call it stale on a shared server after two hours.
    """
    with TrackedRun(
        experiment, tracking_uri=tracking_uri, run_name=run_name, tags=tags, run_id=run_id,
        liveness=False,
    ) as run:  # fmt: skip
        if params:
            run.log_params({k: str(v)[:500] for k, v in params.items()})
        yield run
