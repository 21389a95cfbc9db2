"""Expected failures map to one line and an exit code (roma_bench.errors.classify)."""

from __future__ import annotations

from roma_bench.errors import FAULT_EXIT, INPUT_EXIT, classify

HDF5_FLUSH = (
    "Unable to flush raw data (file write failed: time = Mon Nov 30 06:18:04 2026\n, "
    "filename = 'small/km-race.h5.partial', file descriptor = 4, errno = 28, error message = "
    "'No space left on device', buf = 0x562b261f6f3c, total write size = 1175, bytes this "
    "sub-write = 1175, offset = 397312)"
)


def test_a_failed_hdf5_flush_is_a_disk_fault_naming_the_file() -> None:
    """h5py raises a RuntimeError (not an OSError) when closing a file whose flush failed."""
    assert classify(RuntimeError(HDF5_FLUSH)) == (
        FAULT_EXIT,
        "small/km-race.h5.partial: no space left on device (ENOSPC)",
    )


def test_other_errors_keep_their_class() -> None:
    assert classify(RuntimeError("something else broke")) is None  # a bug: keep the traceback
    assert classify(FileNotFoundError(2, "No such file or directory", "x.h5"))[0] == INPUT_EXIT
    assert classify(OSError(28, "No space left on device", "x.h5")) == (
        FAULT_EXIT,
        "x.h5: no space left on device (ENOSPC)",
    )
