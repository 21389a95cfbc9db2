"""Does a concurrent job slow a run in proportion, or 50x? ROMA's step alone and beside a twin.

For each thread setting, two measurements of the tiny ROMA training step on km-tiny (the model
step: forward, loss, backward, AdamW, on batches built beforehand), each in a fresh process:

- **alone**: nothing else runs;
- **loaded**: a second process with the same settings trains the same model without pause
  (a twin job: what a second board shard, study or sweep worker does on the same machine).

Settings (the environment both processes start with):

- ``roma-bench defaults``: nothing set. ``roma_bench`` sets ``OMP_WAIT_POLICY=PASSIVE`` when
  imported (before torch, as the CLI does); torch uses as many intra-op threads as cores;
- ``no wait policy``: the same threads, ``OMP_WAIT_POLICY`` left to libgomp's default (idle
  threads spin for a while before they sleep): what a plain torch script gets;
- ``one thread each``: ``OMP_NUM_THREADS=1`` (README "Threads and data workers": one thread
  per job when jobs share the cores).

Printed: median seconds per step alone (half of the steps before the loaded measurement,
half after) and loaded, and ``loaded/alone``. Two jobs that each
want every core should each run at about half speed (≈ 2; ≈ 1 with one thread each on two
cores); a spinning pool makes it far worse (the issue measured 0.26 s → 14 s, 50x, on this
2-core machine). A loaded measurement stops after ``--max-seconds`` (3 steps at least).
Run it alone on the machine.

    python benchmarks/contention.py [--task km-tiny] [--steps 40] [--max-seconds 60]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Environment overrides per setting (``None``: unset). An empty ``OMP_WAIT_POLICY`` is one
#: that ``roma_bench`` keeps (``setdefault``) and libgomp ignores (its default policy; it
#: warns on stderr, which the benchmark does not show).
SETTINGS: dict[str, dict[str, str | None]] = {
    "roma-bench defaults": {"OMP_NUM_THREADS": None, "OMP_WAIT_POLICY": None},
    "no wait policy": {"OMP_NUM_THREADS": None, "OMP_WAIT_POLICY": ""},
    "one thread each": {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": None},
}


def child(task: str, steps: int, max_seconds: float, forever: bool) -> None:
    """Time ROMA's model step in this process (``forever``: step until killed, the twin)."""
    # harness imports roma_bench before torch: its OMP_WAIT_POLICY default applies, as in the CLI
    from harness import training_loop

    with tempfile.TemporaryDirectory() as tmp:
        loop = training_loop("roma", task, steps, 0, Path(tmp))
        import torch

        batches = itertools.cycle([loop.train_items[loop.step + k] for k in range(8)])
        loop.next_batch = lambda: next(batches)  # type: ignore[method-assign]
        for _ in range(2):  # warm-up
            loop.train_step()
        if forever:
            print("ready", flush=True)
            while True:
                loop.train_step()
        times: list[float] = []
        begin = time.perf_counter()
        while len(times) < steps and (len(times) < 3 or time.perf_counter() - begin < max_seconds):
            start = time.perf_counter()
            loop.train_step()
            times.append(time.perf_counter() - start)
        print(json.dumps({
            "times": times,
            "threads": torch.get_num_threads(),
            "wait_policy": os.environ.get("OMP_WAIT_POLICY") or "libgomp default",
        }))  # fmt: skip


def _env(overrides: dict[str, str | None]) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        env.pop(key, None)
    for key, value in overrides.items():
        if value is not None:
            env[key] = value
    return env


def _args(args: argparse.Namespace, role: str, steps: int) -> list[str]:
    return [sys.executable, __file__, "--child", role, "--task", args.task,
            "--steps", str(steps), "--max-seconds", str(args.max_seconds)]  # fmt: skip


def measure(args: argparse.Namespace, env: dict[str, str], steps: int, loaded: bool) -> dict:
    """One timed child of up to ``steps`` steps, beside a running twin when ``loaded``."""
    twin = None
    if loaded:
        twin = subprocess.Popen(_args(args, "twin", steps), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)  # fmt: skip
        if twin.stdout is None or twin.stdout.readline().strip() != "ready":
            twin.kill()
            raise RuntimeError("the twin job did not start (run it by hand: --child twin)")
    try:
        done = subprocess.run(
            _args(args, "measure", steps), env=env, capture_output=True, text=True
        )
    finally:
        if twin is not None:
            twin.kill()
            twin.wait()
    if done.returncode != 0:
        raise RuntimeError(f"the measured job failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="km-tiny")
    parser.add_argument("--steps", type=int, default=40, help="timed steps (default 40)")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop a measurement after this long (default 60)")  # fmt: skip
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--child", choices=["measure", "twin"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.task, args.steps, args.max_seconds, forever=args.child == "twin")
        return
    print(f"{'setting':20} {'threads':>7} {'wait policy':>15} {'alone s/step':>12} "
          f"{'loaded s/step':>13} {'loaded/alone':>12}")  # fmt: skip
    for name in args.settings:
        env = _env(SETTINGS[name])
        # alone: half before and half after the loaded run (A-B-A), pooled, so that drift of
        # a shared machine during the measurement moves both medians alike
        before = measure(args, env, args.steps // 2, loaded=False)
        loaded = measure(args, env, args.steps, loaded=True)
        after = measure(args, env, args.steps - args.steps // 2, loaded=False)
        alone_s = statistics.median(before["times"] + after["times"])
        loaded_s = statistics.median(loaded["times"])
        print(
            f"{name:20} {before['threads']:>7} {before['wait_policy']:>15} "
            f"{alone_s:>12.3f} {loaded_s:>13.3f} {loaded_s / alone_s:>12.2f}"
            + (f"  ({len(loaded['times'])} steps)" if len(loaded["times"]) < args.steps else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
