"""Does the training loop wait for data? The full loop step versus the model step alone.

For each model (default roma and gcn, tiny, on km-tiny) and each ``--workers`` count, in one
process:

- **model step**: forward, loss, backward, clipping and AdamW on batches built beforehand
  (:meth:`TrainingLoop.train_step` with the batch source replaced by a list in memory);
- **loop step**: :meth:`TrainingLoop.train_step` as training runs it, the batch coming from
  :func:`roma_bench.training.data.training_batches` (DataLoader workers when > 0), with
  the time spent blocked on the next batch measured separately.

The model steps run half before and half after the loop steps (A-B-A), so that drift of a
shared machine during the measurement moves both medians alike.

Each with the subgraph-encoding cache (:mod:`roma_bench.data.encoding_cache`) ``off`` (what
the first run on a seed's stream pays: every encoding computed) and ``warm`` (what every later
run of a board on that seed sees: encodings read from disk).

Printed per row: seconds per step of both, ``loop/model`` (target ≤ 1.1), the fraction
of the loop step spent waiting for data (target < 10 %) and the median wait (receiving
and unpickling a batch that is ready costs about a millisecond). Run it alone on the machine with
``OMP_NUM_THREADS=1`` (the model step's threads; workers use one thread each).

``--steps`` defaults to 200: gcn's model step is ≈ 14 ms, so over 30 steps a single
scheduling hiccup of the 2-core machine (≈ 0.1 s) moves its waiting fraction by ≈ 20 points
(measured: 6–22 % for the same configuration at 30 steps, 6–7 % at 200). The training
default is ``num_workers=1``; with 2 workers the main process and the workers oversubscribe
2 cores.

    OMP_NUM_THREADS=1 python benchmarks/loop.py [--models roma gcn] [--workers 0 1 2] \
        [--cache off warm] [--steps 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch
from harness import training_loop

from roma_bench.data.encoding_cache import CACHE_ENV


def measure(model_name: str, task: str, steps: int, workers: int, cache: str, out: Path) -> dict:
    """Median seconds per model step and per loop step, and the loop's waiting fraction.

    ``cache``: ``off`` (no encoding cache) or ``warm`` (a fresh cache folder under ``out``,
    filled with every item this measurement reads before the clock starts)."""
    os.environ[CACHE_ENV] = "off" if cache == "off" else str(out / f"cache-{model_name}-{workers}")
    loop = training_loop(model_name, task, steps, workers, out)
    if cache == "warm":
        for k in range(loop.step, loop.step + 2 * steps + 2 * workers + 4):
            loop.train_items[k]  # computes and stores the item's encodings
    for _ in range(2):  # warm-up (the first DataLoader batch includes starting the workers)
        loop.train_step()
    # model step alone: the next batches built beforehand, handed over from memory; half of
    # its steps before the loop's and half after, so that a machine that speeds up or slows
    # down during the measurement moves both medians alike (A-B-A)
    prebuilt = [loop.train_items[loop.step + k] for k in range(steps)]
    fetch = loop.next_batch
    source = iter(prebuilt)
    model_times: list[float] = []

    def model_steps(count: int) -> None:
        loop.next_batch = lambda: next(source)  # type: ignore[method-assign]
        for _ in range(count):
            start = time.perf_counter()
            loop.train_step()
            model_times.append(time.perf_counter() - start)
        loop.next_batch = fetch  # type: ignore[method-assign]

    model_steps(steps // 2)
    waits: list[float] = []

    def timed_fetch():
        start = time.perf_counter()
        batch = fetch()
        waits.append(time.perf_counter() - start)
        return batch

    loop.next_batch = timed_fetch  # type: ignore[method-assign]
    loop_times = []
    for _ in range(steps):
        start = time.perf_counter()
        loop.train_step()
        loop_times.append(time.perf_counter() - start)
    model_steps(steps - steps // 2)
    model_s, loop_s = statistics.median(model_times), statistics.median(loop_times)
    return {
        "model": model_name, "workers": workers, "cache": cache, "model_step_s": model_s,
        "loop_step_s": loop_s, "ratio": loop_s / model_s,
        "waiting": sum(waits) / sum(loop_times), "median_wait_s": statistics.median(waits),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="km-tiny")
    parser.add_argument("--models", nargs="+", default=["roma", "gcn"])
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--cache", nargs="+", choices=["off", "warm"], default=["off", "warm"])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    print(f"{'model':6} {'workers':>7} {'cache':>5} {'model s/step':>12} {'loop s/step':>11} "
          f"{'loop/model':>10} {'waiting':>8} {'median wait ms':>14}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for workers in args.workers:
                for cache in args.cache:
                    row = measure(name, args.task, args.steps, workers, cache, Path(tmp))
                    print(
                        f"{row['model']:6} {row['workers']:>7} {row['cache']:>5} "
                        f"{row['model_step_s']:>12.4f} {row['loop_step_s']:>11.4f} "
                        f"{row['ratio']:>10.2f} {row['waiting']:>8.1%} "
                        f"{1e3 * row['median_wait_s']:>14.2f}"
                    )


if __name__ == "__main__":
    main()
