"""benchmarks/contention.py's settings reach its child processes as intended."""

from __future__ import annotations

import subprocess
import sys

from test_benchmark_scale import BENCHMARKS, _load

# what a child sees once harness (and with it roma_bench, before torch) is imported
PROBE = (
    f"import sys; sys.path.insert(0, {str(BENCHMARKS)!r}); import harness, os; "
    "print(repr(os.environ.get('OMP_WAIT_POLICY')), repr(os.environ.get('OMP_NUM_THREADS')))"
)


def _child_sees(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_each_setting_reaches_the_child_as_named(monkeypatch):
    contention = _load("contention")
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the caller's own settings never leak in
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    seen = {name: _child_sees(contention._env(o)) for name, o in contention.SETTINGS.items()}
    assert seen == {
        "roma-bench defaults": "'PASSIVE' None",  # roma_bench's default, torch's threads
        "no wait policy": "'' None",  # kept by roma_bench, ignored by libgomp
        "one thread each": "'PASSIVE' '1'",
    }
