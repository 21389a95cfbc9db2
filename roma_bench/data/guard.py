"""One writer per task store, and "up to date" only for a store that verifies.

:func:`one_writer_per_store` wraps :func:`roma_bench.data.generation.generate_task`:

- the whole generation runs under an exclusive lock on ``<out>.lock``
  (:func:`roma_bench.locks.file_lock`); a second process generating the same file waits
  (and says for whom) instead of sharing ``<out>.partial``, so ``--force`` never deletes
  another process's work in progress;
- a store that another process finished while this one waited is used as it is, even
  with ``force`` (it was just generated from the same card);
- an existing store is only returned as up to date after :func:`verify_store` recomputed
  its header, completeness and every checksum; a damaged one is reported (never
  overwritten without ``force``).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from roma_bench.data.format import StoreError
from roma_bench.data.store import verify_store
from roma_bench.errors import FaultError, describe_os_error, hdf5_os_error, os_error_exit_code
from roma_bench.locks import file_lock
from roma_bench.paths import task_data_path


def partial_path(out: Path) -> Path:
    """Where an unfinished store is written: ``<out>.partial``."""
    return out.with_name(out.name + ".partial")


def checkpoint_path(out: Path) -> Path:
    """The resume checkpoint of an unfinished store: ``<out>.partial.ckpt.npz``."""
    return out.with_name(out.name + ".partial.ckpt.npz")


def _identity(path: Path) -> tuple[int, int] | None:
    """``(inode, mtime_ns)`` of ``path``, or None when it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def one_writer_per_store(generate: Callable[..., Path]) -> Callable[..., Path]:
    """Decorate ``generate_task(card, out=None, resume=False, progress=True, *, force=False, ...)``."""

    @functools.wraps(generate)
    def guarded(card: Any, out: Path | None = None, resume: bool = False,
                progress: bool = True, **kwargs: Any) -> Path:  # fmt: skip

        out = Path(out) if out is not None else task_data_path(card.name)
        before = _identity(out)

        def say_waiting(holder: str) -> None:
            print(f"waiting for {holder}, which is generating {out}", file=sys.stderr)

        with file_lock(out, on_wait=say_waiting):
            now = _identity(out)
            finished_meanwhile = now is not None and now != before
            if now is not None and (finished_meanwhile or not kwargs.get("force", False)):
                _check_up_to_date(out, progress)
                if finished_meanwhile:
                    return out
            try:
                return generate(card, out, resume, progress, **kwargs)
            except FileExistsError:  # a store or partial file in the way: the caller's choice
                raise
            except OSError as err:  # full disk, unwritable folder, I/O error
                raise _write_fault(out, err) from err
            except RuntimeError as err:  # h5py's flush/close of a file whose write failed
                failed_write = hdf5_os_error(err)
                if failed_write is None:
                    raise
                raise _write_fault(out, failed_write) from err

    return guarded


def _check_up_to_date(out: Path, progress: bool) -> None:
    """Verify ``out`` in full (header, completeness, every checksum); raise if damaged."""

    try:
        verify_store(out, progress=progress)
    except StoreError as err:
        if "--force" in str(err):
            raise
        raise StoreError(f"{err}; regenerate it with --force (force=True)") from None


def _write_fault(out: Path, err: OSError) -> Exception:
    """One line for an ``OSError`` while generating ``out``: the file, the cause, what is kept."""

    if os_error_exit_code(err) == 2:  # a path the user named is missing / under a file
        return err
    kept = partial_path(out)
    advice = (
        f"kept {kept} and its checkpoint: fix the cause and rerun with --resume"
        if checkpoint_path(out).exists()
        else "nothing was kept"
    )
    cause = describe_os_error(err)
    where = "" if str(out) in cause or str(kept) in cause else f"{kept}: "
    return FaultError(f"generating {out}: {where}{cause}; {advice}")
