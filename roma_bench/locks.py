"""Inter-process file locks: each shared thing (a tracking store, a task store) is made under one.

A lock is an ``flock`` on a small file next to the thing it guards (``<path>.lock``); the
lock file itself is never deleted (deleting it would let a second process lock a fresh
inode while the first still holds the old one). The holder writes its host and PID into
the file so a waiting process can say whom it waits for. ``flock`` locks are released by
the kernel when the holder dies, so a killed process never leaves a stale lock.

POSIX only (``fcntl``); on other systems the locks are no-ops with a warning.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from roma_bench.errors import FaultError

#: Seconds between two attempts while waiting for a lock.
POLL_SECONDS = 0.05


class LockTimeoutError(FaultError):
    """A lock stayed held by another process for longer than the caller would wait."""


def lock_path_for(path: str | Path) -> Path:
    """The lock file guarding ``path``: ``<path>.lock`` in the same folder."""
    path = Path(path)
    return path.with_name(path.name + ".lock")


def lock_holder(lock: Path) -> str:
    """``host:pid`` written by the process holding ``lock`` (empty when unknown)."""
    try:
        return lock.read_text().strip()
    except OSError:
        return ""


@contextmanager
def file_lock(
    path: str | Path,
    *,
    timeout: float | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold an exclusive lock on ``<path>.lock`` for the ``with`` block; yields the lock path.

    Waits for another holder (``timeout=None``: as long as it takes; Ctrl-C still works,
    the wait is a polling loop). ``on_wait(holder)`` is called once when the lock is busy,
    with the ``host:pid`` of the holder. Raises :class:`LockTimeoutError` after ``timeout``
    seconds.
    """
    lock = lock_path_for(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        print(f"warning: no file locks on {sys.platform}; {path} is not guarded", file=sys.stderr)
        yield lock
        return
    handle = open(lock, "a+")  # noqa: SIM115 - closed in finally
    try:
        started, warned = time.monotonic(), False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not warned and on_wait is not None:
                    on_wait(lock_holder(lock) or "another process")
                    warned = True
                if timeout is not None and time.monotonic() - started > timeout:
                    raise LockTimeoutError(
                        f"{path}: still locked by {lock_holder(lock) or 'another process'} "
                        f"after {timeout:.0f} s ({lock})"
                    ) from None
                time.sleep(POLL_SECONDS)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()}:{os.getpid()}\n")
        handle.flush()
        try:
            yield lock
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def is_locked(path: str | Path) -> bool:
    """True when another process holds the lock of ``path`` right now."""
    lock = lock_path_for(path)
    if not lock.exists():
        return False
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return False
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False
