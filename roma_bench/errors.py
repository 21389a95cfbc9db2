"""The two kinds of expected failure, and how the CLI reports them.

Every failure a user can cause or meet is one of:

- :class:`InputError` — bad input the user can fix before running again (a value out
  of range, a path that does not exist, a file in a format we refuse). Exit code 2.
- :class:`FaultError` — a fault found while working (a damaged file, a full disk, a
  path that cannot be written). Exit code 1.

The CLI entry point (:func:`roma_bench.cli.main`) maps these, and the library's older
error types, to one line on stderr and an exit code (:func:`exit_code_for`); ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import errno
import os
import re

INPUT_EXIT = 2
FAULT_EXIT = 1


class InputError(ValueError):
    """Bad input (a value, a user-named path, a refused file format); exit code 2."""


class MissingPathError(InputError, FileNotFoundError):
    """A path the user named does not exist (still a ``FileNotFoundError``); exit code 2."""

    def __str__(self) -> str:  # OSError's __str__ would print the errno tuple
        return str(self.args[0]) if self.args else "no such file"


class FaultError(RuntimeError):
    """A fault found while working (damaged file, full disk, unwritable path); exit code 1."""


def describe_os_error(err: OSError) -> str:
    """One line for an ``OSError``: the file it names and the cause in words.

    ``OSError(28, 'No space left on device', 'data/x.h5')`` →
    ``data/x.h5: no space left on device (ENOSPC)``.
    """
    cause = " ".join((err.strerror or str(err)).split()) or type(err).__name__
    cause = cause[0].lower() + cause[1:]
    code = errno.errorcode.get(err.errno or -1)
    if code:
        cause = f"{cause} ({code})"
    name = err.filename if err.filename is not None else None
    if err.filename2 is not None:
        name = f"{err.filename} -> {err.filename2}"
    return f"{name}: {cause}" if name is not None else cause


def os_error_exit_code(err: OSError) -> int:
    """2 when the user named something that is not there or not a folder, else 1 (a fault)."""
    if isinstance(err, FileNotFoundError | NotADirectoryError | IsADirectoryError):
        return INPUT_EXIT
    return FAULT_EXIT


def _is_named(err: BaseException, *names: str) -> bool:
    """True when ``err``'s class or a base has one of ``names`` (no import of its library)."""
    return any(cls.__name__ in names for cls in type(err).__mro__)


def classify(err: BaseException) -> tuple[int, str] | None:
    """``(exit code, one line)`` for an expected failure, ``None`` for a bug (keep traceback).

    Input errors (:class:`InputError` and the library's config, registry, usage,
    leaderboard and evaluation errors) exit 2; faults (:class:`FaultError`, a damaged task
    store, an ``OSError`` such as a full disk, a tracking-store failure) exit 1; a path the
    user named that is missing or sits under a regular file exits 2.
    """
    if isinstance(err, InputError) or _is_named(
        err, "ConfigError", "RegistryError", "UsageError", "LeaderboardError", "EvaluationError"
    ):
        message = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        return INPUT_EXIT, str(message)
    if isinstance(err, FaultError) or _is_named(err, "StoreError"):
        return FAULT_EXIT, str(err)
    if isinstance(err, OSError):
        return os_error_exit_code(err), describe_os_error(err)
    if _is_named(err, "MlflowException", "OperationalError", "DatabaseError"):
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return FAULT_EXIT, f"tracking store: {first}"
    failed_write = hdf5_os_error(err)
    if failed_write is not None:
        return os_error_exit_code(failed_write), describe_os_error(failed_write)
    return None


_HDF5_ERRNO = re.compile(r"errno = (\d+)")
_HDF5_FILENAME = re.compile(r"filename = '([^']*)'")


def hdf5_os_error(err: BaseException) -> OSError | None:
    """The ``OSError`` inside an HDF5 ``RuntimeError`` (h5py raises one when a flush or close
    fails, e.g. ``Unable to flush raw data (file write failed: …, filename = 'x.h5', …,
    errno = 28, …)``), or ``None`` when ``err`` is not such an error."""
    if not isinstance(err, RuntimeError):
        return None
    found = _HDF5_ERRNO.search(str(err))
    if found is None:
        return None
    number = int(found.group(1))
    name = _HDF5_FILENAME.search(str(err))
    return OSError(number, os.strerror(number), name.group(1) if name else None)


class RegistryError(KeyError):
    """An unknown or duplicate model or task name."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])
