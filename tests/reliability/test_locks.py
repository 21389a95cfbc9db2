"""The file lock under the store guards: waits name the holder, timeouts are one-line faults."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from racing import ROOT

from roma_bench.locks import LockTimeoutError, file_lock, is_locked

HOLDER = """
import sys, time
from roma_bench.locks import file_lock
with file_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(path, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(seconds)], env=env,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.mark.timeout(60)
def test_a_second_process_waits_and_is_told_for_whom(tmp_path):
    target = tmp_path / "store.h5"
    holder = _hold(target, 1.5)
    assert is_locked(target)
    waited_for = []
    started = time.monotonic()
    with file_lock(target, on_wait=waited_for.append):
        assert time.monotonic() - started > 0.5  # it really waited for the holder
    assert waited_for == [f"{socket.gethostname()}:{holder.pid}"]
    assert holder.wait(timeout=30) == 0 and not is_locked(target)


@pytest.mark.timeout(60)
def test_a_lock_held_too_long_is_a_fault_naming_the_holder(tmp_path):
    target = tmp_path / "store.h5"
    holder = _hold(target, 30)
    try:
        expected = rf"{target}: still locked by .*:{holder.pid}"
        with pytest.raises(LockTimeoutError, match=expected), file_lock(target, timeout=0.3):
            pass
    finally:
        holder.kill()
        holder.wait()
    with file_lock(target, timeout=5):  # the kernel released the dead holder's lock
        pass
