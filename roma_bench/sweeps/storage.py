"""Where a sweep's trials live, and the lock that makes several workers take exact turns.

Storage (``--storage``):

- default: an Optuna :class:`~optuna.storages.journal.JournalStorage` with a file backend at
  ``<runs_dir>/sweeps/<study>.journal`` — one file, safe for several processes on one machine;
- a path (``*.journal`` / ``*.log``, or ``journal:PATH``): a journal file there;
- an SQLAlchemy URL (``postgresql://user:pw@host/db``, ``mysql://...``, ``sqlite:///f.db``): an
  Optuna RDB storage, for many workers on many machines.

Claim lock: a worker counts the study's trials and creates its next one while holding a lock
(a ``flock`` on ``<file>.claim.lock`` for files, ``pg_advisory_lock`` for PostgreSQL,
``GET_LOCK`` for MySQL), so several workers never start more trials than asked.
"""

from __future__ import annotations

import contextlib
import fcntl
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from roma_bench.paths import runs_dir

RDB_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite", "oracle", "mssql")


def default_journal_path(study_name: str) -> Path:
    """``<runs_dir>/sweeps/<study_name>.journal``."""
    return runs_dir() / "sweeps" / f"{study_name}.journal"


def storage_kind(url: str) -> str:
    """``"journal"`` for a file path, else the URL's database dialect (``postgresql``, ...)."""
    if url.startswith("journal:"):
        return "journal"
    scheme = url.split("://", 1)[0] if "://" in url else ""
    dialect = scheme.split("+", 1)[0]
    if dialect == "postgres":
        return "postgresql"
    if dialect in RDB_SCHEMES:
        return dialect
    if scheme:
        raise ValueError(
            f"--storage {url!r}: unsupported scheme {scheme!r}; use a journal file path or a "
            f"postgresql://, mysql:// or sqlite:/// URL"
        )
    return "journal"


def normalize_url(url: str) -> str:
    """SQLAlchemy spells PostgreSQL ``postgresql://``; accept the common ``postgres://`` too."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgres+"):
        return "postgresql+" + url[len("postgres+") :]
    return url


def journal_path(url: str) -> Path:
    return Path(url[len("journal:") :] if url.startswith("journal:") else url)


def open_storage(url: str | None, study_name: str) -> tuple[Any, str]:
    """Return ``(optuna storage, resolved url)`` for ``url`` (``None`` → the default journal)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

    if url is None:
        url = str(default_journal_path(study_name))
    kind = storage_kind(url)
    if kind == "journal":
        path = journal_path(url).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return JournalStorage(backend), str(path)
    url = normalize_url(url)
    if kind == "sqlite":
        db = url.split(":///", 1)[-1]
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
    # Two workers creating the schema at once collide (duplicate enum types): serialize it.
    schema_lock = ClaimLock(url, "__schema__")
    try:
        with schema_lock.hold():
            storage = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(kind))
    finally:
        schema_lock.close()
    return storage, url


def _engine_kwargs(kind: str) -> dict[str, Any]:
    # Reconnect silently after a server-side idle disconnect; workers can be long-lived.
    return {"pool_pre_ping": True} if kind in ("postgresql", "mysql") else {}


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class ClaimLock:
    """A cross-process lock around "count the trials, then create the next one".

    Files use ``flock`` (processes on one machine; also NFS with working locks);
    PostgreSQL a session advisory lock keyed by the study name; MySQL ``GET_LOCK``.
    """

    def __init__(self, url: str, study_name: str) -> None:
        self.url = url
        self.study_name = study_name
        self.kind = storage_kind(url)
        self._engine = None
        if self.kind in ("postgresql", "mysql"):
            import sqlalchemy
            from sqlalchemy.pool import NullPool

            self._engine = sqlalchemy.create_engine(url, poolclass=NullPool)
        elif self.kind not in ("journal", "sqlite"):
            raise ValueError(
                f"--storage {url!r}: no cross-worker lock for {self.kind}; use a journal file, "
                "SQLite (one machine), PostgreSQL or MySQL"
            )

    @property
    def key(self) -> int:
        """A stable signed 32-bit key for the study (PostgreSQL advisory lock id)."""
        value = zlib.crc32(f"roma-bench-sweep:{self.study_name}".encode())
        return value - (1 << 32) if value >= (1 << 31) else value

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        if self.kind == "journal":
            with _file_lock(Path(self.url).with_name(Path(self.url).name + ".claim.lock")):
                yield
        elif self.kind == "sqlite":
            db = Path(self.url.split(":///", 1)[-1])
            with _file_lock(db.with_name(db.name + ".claim.lock")):
                yield
        else:
            import sqlalchemy

            with self._engine.connect() as conn:
                if self.kind == "postgresql":
                    conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
                    release = sqlalchemy.text("SELECT pg_advisory_unlock(:k)")
                    params: dict[str, Any] = {"k": self.key}
                else:
                    name = f"roma-bench:{self.key}"
                    conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": name})
                    release = sqlalchemy.text("SELECT RELEASE_LOCK(:n)")
                    params = {"n": name}
                try:
                    yield
                finally:
                    conn.execute(release, params)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
