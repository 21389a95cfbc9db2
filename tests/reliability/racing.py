"""Start real processes together from a file barrier, for race tests.

Each worker runs ``setup`` (imports: slow, outside the race), then for every round
signals ``ready-<round>-<index>`` and spins until the parent creates ``go-<round>``;
then runs ``action`` with ``round_``, ``index`` and ``root`` bound. Several rounds in
one launch repeat the race without paying the imports again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_WORKER = r"""
import pathlib, sys, time
root, index, rounds = pathlib.Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
exec(compile(sys.argv[4], "<setup>", "exec"))
for round_ in range(rounds):
    (root / f"ready-{round_}-{index}").touch()
    while not (root / f"go-{round_}").exists():
        time.sleep(0.0005)
    try:
        exec(compile(sys.argv[5], "<action>", "exec"))
    except SystemExit as stop:
        if stop.code:
            print(f"round {round_}: exit {stop.code}", file=sys.stderr, flush=True)
            sys.exit(stop.code)
"""


@dataclass
class Finished:
    """What one worker left: its exit code and output."""

    returncode: int
    stdout: str
    stderr: str


def race(
    root: Path, workers: int, setup: str, action: str, rounds: int = 3, timeout: float = 240
) -> list[Finished]:
    """Run ``action`` in ``workers`` processes released together, ``rounds`` times."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(root), str(i), str(rounds), setup, action],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    deadline = time.monotonic() + timeout
    try:
        for round_ in range(rounds):
            ready = [root / f"ready-{round_}-{i}" for i in range(workers)]
            while not all(p.exists() for p in ready):
                if any(proc.poll() is not None for proc in procs) or time.monotonic() > deadline:
                    break
                time.sleep(0.005)
            (root / f"go-{round_}").touch()
        finished = []
        for proc in procs:
            out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
            finished.append(Finished(proc.returncode, out, err))
        return finished
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
