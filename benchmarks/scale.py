"""Does training cost grow with the task graph? The same training command on a small and a
large task: step time, peak RSS (the O(N) graph arrays reported apart), evaluation.

For each ``--tasks`` entry (default ``km-tiny km-1m``; the stores must exist, see
``roma-bench generate``), in child processes so that every peak RSS is one task's:

1. **train**: :func:`roma_bench.training.fit.train` of ``--model`` (roma) at ``--size``
   (tiny), ``--steps`` steps, seed 0, on the CPU with one thread, the default DataLoader
   worker count (``--workers``), no test scoring and no plots, MLflow into a throwaway
   SQLite store under ``--out``. Every :meth:`TrainingLoop.train_step` is timed (the loop
   step as training runs it: waiting for the step's batch, forward, backward, clipping,
   AdamW; validation rounds are not in it); the mean and median after ``--warmup`` steps
   are reported, and each validation round (on the card's val subgraph) apart. Peak RSS
   (``VmHWM``, which ``train`` resets after building the model): of the training process
   during its training steps (read just before the first validation round; the process
   holds no whole-graph array then: the DataLoader worker samples the batches), of the
   training process over the whole run (validation included: the val subgraph, whose size
   is a card setting, and the whole graph it is cut from) and of its DataLoader worker
   (polled from ``/proc`` every 0.5 s, with its RSS when first seen: the pages it shares
   with the training process since the fork; and ``RUSAGE_CHILDREN`` once it exited).
2. **O(N) arrays**: the bytes of the whole-graph arrays each process holds, counted tensor
   by tensor (shared storage once) on stores opened as those processes open them: the
   task graph (:attr:`TaskStore.graph`, every sparse format DGL created, ndata, edata),
   ``coords``, ``partition`` and the node split (both), and the random-walk sampler's
   training-node graph (the worker). ``RSS − O(N)`` is compared across tasks: it should
   stay within 1.2× when nothing in a training step depends on the graph's size. The HDF5
   chunk cache of each open store (up to 256 MiB, :class:`TaskStore` ``cache_bytes``)
   fills with the field chunks read, so it is part of ``RSS − O(N)`` and bounded.
3. **batch**: the time to build one training batch in-process (``TrainWindows[k]``, the
   worker's job), mean over ``--batches`` items after one warm-up.
4. **evaluate**: :func:`roma_bench.training.evaluate.evaluate_checkpoint` of the trained
   weights on the task's test split (the whole held-out test subgraph): wall time (opening
   the store, building the test windows and encodings, scoring) and peak RSS.

Prints a table per phase and the whole result as JSON (``--json FILE`` writes it too).
Run it alone on the machine; ``OMP_NUM_THREADS=1`` is set for the children::

    python benchmarks/scale.py --tasks km-tiny km-1m --steps 300
    python benchmarks/scale.py --tasks km-tiny km-1m --steps 200 --no-eval

Measured (``--steps 200``, ROMA-tiny, 512-node batches, one DataLoader worker; a 2-core
machine shared with another job's tests, so wall times carry its load):

- step: km-tiny 647 ms (CPU 569 ms), km-1m 605 ms (CPU 527 ms): ratio 0.94. Batch built
  in-process: 47 vs 65 ms (1.39×: scattered field chunks read from the 1.4 GB store); the
  worker prepares it while the model steps, so the step does not wait for it.
- peak RSS of the training steps: 1234 vs 1235 MiB (1.00). DataLoader worker: 822 vs
  889 MiB (1.08) with 308 MiB of O(N) arrays in km-1m's (task graph 163 MiB: COO + CSR +
  ndata of 4.58M directed edges; coords, partition, split 23 MiB; the sampler's
  training-node graph 123 MiB); the training process holds 186 MiB of them once the first
  validation round cuts the val subgraph out of the whole graph.
- whole run of the training process: 1263 vs 2111 MiB; less its O(N) arrays 1263 vs 1925
  (1.52): validation on km-1m's 4,096-node val subgraph (km-tiny: 128), one round 15 s
  (0.3 s): mostly ROMA's attention over every node token, quadratic in the val
  subgraph's size (a card setting), not in N. (Alone, torch 2.2's CPU
  ``scaled_dot_product_attention`` with 4 heads over 4,160 tokens raises the peak RSS
  by 541 MiB: it materializes the weights.)
- evaluation on the test split (8 windows, rollout 16): km-tiny (256 nodes) 6.2 s,
  808 MiB; km-1m (8,192 nodes) 555 s, 3,370 MiB (py-spy on the scoring: three quarters
  in the attention blocks, a fifth in the latent-PDE residual).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memory import (
    MIB,
    ChildWatch,
    children_peak_rss_mib,
    on_arrays,
    peak_rss_mib,
)

#: The numbers compared as (larger task) / (first task).
RATIO_KEYS = (
    "step_mean_s", "step_median_s", "step_cpu_s", "batch_mean_s", "batch_cpu_s",
    "peak_rss_steps_mib", "rss_worker_minus_on_mib", "rss_main_minus_on_mib",
    "peak_rss_main_mib", "peak_rss_worker_mib",
)  # fmt: skip


# ---------------------------------------------------------------------- children
def _setup_child() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))


def train_child(args: argparse.Namespace, task: str) -> dict:
    """Train, time every step, measure peaks, then count the O(N) arrays and time batches."""
    _setup_child()
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.store import TaskStore
    from roma_bench.data.windows import step_seed
    from roma_bench.paths import task_data_path
    from roma_bench.training.config import TrainConfig
    from roma_bench.training.fit import train
    from roma_bench.training.loop import TrainingLoop

    path = task_data_path(task)
    if not path.is_file():
        raise SystemExit(f"scale: no store for {task} at {path}; run `roma-bench generate {task}`")
    times: list[float] = []
    cpu_times: list[float] = []
    before_validation: list[float] = []
    val_times: list[float] = []
    timed, validate = TrainingLoop.train_step, TrainingLoop.validate

    def train_step(self):
        start, cpu = time.perf_counter(), time.process_time()
        value = timed(self)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu)
        return value

    def validation(self):
        before_validation.append(peak_rss_mib())  # the training steps' peak so far
        start = time.perf_counter()
        stop = validate(self)
        val_times.append(time.perf_counter() - start)
        return stop

    TrainingLoop.train_step = train_step  # type: ignore[method-assign]
    TrainingLoop.validate = validation  # type: ignore[method-assign]
    fields = dict(
        model_name=args.model, task=task, size=args.size, steps=args.steps, seed=0,
        device="cpu", amp=False, evaluate_test=False, plots=False,
    )  # fmt: skip
    if args.workers is not None:
        fields["num_workers"] = args.workers
    config = TrainConfig(**fields)
    out = Path(args.out)
    watch = ChildWatch()
    watch.start()
    start = time.perf_counter()
    result = train(
        config, tracking_uri=f"sqlite:///{out / 'mlflow.db'}", progress=False,
        out_dir=out / "runs" / task,
    )  # fmt: skip
    wall = time.perf_counter() - start
    gc.collect()  # the DataLoader iterator is gone: its worker has been joined
    worker = watch.stop()
    peak_main = peak_rss_mib()
    peak_worker = max(worker.get("peak_mib", 0.0), children_peak_rss_mib())
    steady = times[args.warmup :] or times
    steady_cpu = cpu_times[args.warmup :] or cpu_times

    # what a DataLoader worker holds: the store, its training loader (graph, sampler)
    store = TaskStore(path)
    loader = WindowLoader(store, "train", seed=0)
    loader.sample(seed=step_seed(0, 0))  # warm-up (and the formats DGL creates sampling)
    batch_times, batch_cpu, batch_nodes = [], [], []
    for k in range(1, args.batches + 1):
        start_b, cpu = time.perf_counter(), time.process_time()
        batch = loader.sample(seed=step_seed(0, k))
        batch_times.append(time.perf_counter() - start_b)
        batch_cpu.append(time.process_time() - cpu)
        batch_nodes.append(batch.num_nodes)
    worker_arrays = on_arrays(store, loader._sampler)
    # what the training process holds: the store and the validation subgraph's windows
    main_store = TaskStore(path)
    WindowLoader(main_store, "val").batches()
    main_arrays = on_arrays(main_store)
    if config.num_workers == 0:  # the sampler lives in the training process
        main_arrays = worker_arrays
    return {
        "task": task,
        "nodes": store.num_nodes,
        "edges": store.graph.num_edges(),
        "frames": store.num_frames,
        "val_nodes": len(store.split.val),
        "steps": len(times),
        "warmup": args.warmup,
        "step_mean_s": statistics.fmean(steady),
        "step_median_s": statistics.median(steady),
        "step_cpu_s": statistics.fmean(steady_cpu),
        "val_round_s": statistics.fmean(val_times) if val_times else None,
        "train_wall_s": wall,
        "status": result.status,
        "best_val_loss": result.best_val_loss,
        "peak_rss_steps_mib": before_validation[0] if before_validation else peak_main,
        "peak_rss_main_mib": peak_main,
        "peak_rss_worker_mib": peak_worker,
        "worker_rss_at_start_mib": worker.get("first_mib"),
        "on_arrays_bytes": {"main": main_arrays, "worker": worker_arrays},
        "batch_mean_s": statistics.fmean(batch_times),
        "batch_cpu_s": statistics.fmean(batch_cpu),
        "batch_nodes_mean": statistics.fmean(batch_nodes),
        "checkpoint": str(result.checkpoint),
        "workers": config.num_workers,
    }


def eval_child(task: str, checkpoint: str) -> dict:
    """Score ``checkpoint`` on ``task``'s test split; wall time and peak RSS."""
    _setup_child()
    from roma_bench.data.store import TaskStore
    from roma_bench.paths import task_data_path
    from roma_bench.training.evaluate import evaluate_checkpoint

    start = time.perf_counter()
    scores = evaluate_checkpoint(checkpoint, task=task, split="test", device="cpu")
    wall = time.perf_counter() - start
    peak = peak_rss_mib()
    with TaskStore(task_data_path(task)) as store:
        test_nodes = len(store.split.test)
    return {
        "task": task, "eval_s": wall, "peak_rss_mib": peak, "test_nodes": test_nodes,
        "delta_nrmse": scores.get("delta_nrmse"),
    }  # fmt: skip


def run_child(argv: list[str]) -> dict:
    """This script in a child process (one thread); its JSON result (last stdout line)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.setdefault("MKL_NUM_THREADS", env["OMP_NUM_THREADS"])
    env.setdefault("DGLBACKEND", "pytorch")
    proc = subprocess.run(
        [sys.executable, __file__, *argv], stdout=subprocess.PIPE, text=True, env=env,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"scale: child {argv} failed with exit code {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------- report
def summarize(train_rows: list[dict], eval_rows: list[dict]) -> dict:
    """The table's numbers and the large/small ratios (first task is the reference)."""
    for row in train_rows:
        arrays = row["on_arrays_bytes"]
        main_on = sum(arrays["main"].values()) / MIB
        worker_on = sum(arrays["worker"].values()) / MIB
        row["on_main_mib"], row["on_worker_mib"] = main_on, worker_on
        row["rss_main_minus_on_mib"] = row["peak_rss_main_mib"] - main_on
        row["rss_worker_minus_on_mib"] = row["peak_rss_worker_mib"] - worker_on
    ratios = {}
    if len(train_rows) > 1:
        small = train_rows[0]
        for row in train_rows[1:]:
            ratios[f"{row['task']}/{small['task']}"] = {
                key: row[key] / small[key] for key in RATIO_KEYS if small.get(key)
            }
    return {"train": train_rows, "evaluate": eval_rows, "ratios": ratios}


def print_report(summary: dict) -> None:
    print("\ntraining time (same command, same batch size; step = TrainingLoop.train_step)")
    print(
        f"{'task':10} {'nodes':>9} {'edges':>9} {'batch n':>7} {'step ms':>8} {'median':>7} "
        f"{'CPU ms':>7} {'batch ms':>8} {'CPU ms':>7} {'val nodes':>9} {'val s':>6}"
    )
    for r in summary["train"]:
        val = f"{r['val_round_s']:>6.1f}" if r["val_round_s"] is not None else f"{'-':>6}"
        print(
            f"{r['task']:10} {r['nodes']:>9,} {r['edges']:>9,} {r['batch_nodes_mean']:>7.0f} "
            f"{r['step_mean_s'] * 1e3:>8.1f} {r['step_median_s'] * 1e3:>7.1f} "
            f"{r['step_cpu_s'] * 1e3:>7.1f} {r['batch_mean_s'] * 1e3:>8.1f} "
            f"{r['batch_cpu_s'] * 1e3:>7.1f} {r['val_nodes']:>9,} {val}"
        )
    print(
        "  (ms: wall, mean after the warm-up; CPU ms: the process's CPU time, less sensitive "
        "to a busy machine;\n   batch: one training batch built in-process, the worker's job; "
        "val s: one validation round on the val subgraph)"
    )
    print("\ntraining memory (peak RSS and O(N) arrays in MiB)")
    print(
        f"{'task':10} {'steps':>7} {'main':>7} {'O(N)':>7} {'main−O(N)':>9} "
        f"{'worker':>7} {'O(N)':>7} {'wrk−O(N)':>8}"
    )
    for r in summary["train"]:
        print(
            f"{r['task']:10} {r['peak_rss_steps_mib']:>7.0f} {r['peak_rss_main_mib']:>7.0f} "
            f"{r['on_main_mib']:>7.1f} {r['rss_main_minus_on_mib']:>9.0f} "
            f"{r['peak_rss_worker_mib']:>7.0f} {r['on_worker_mib']:>7.1f} "
            f"{r['rss_worker_minus_on_mib']:>8.0f}"
        )
    print(
        "  (steps: the training process before its first validation round, no O(N) array "
        "loaded yet;\n   main: the training process over the whole run, validation included; "
        "worker: its DataLoader worker)"
    )
    for r in summary["train"]:
        parts = "; ".join(
            f"{who}: " + ", ".join(f"{k} {v / MIB:.1f}" for k, v in arrays.items())
            for who, arrays in r["on_arrays_bytes"].items()
        )
        start = r.get("worker_rss_at_start_mib")
        inherited = f"; worker RSS when first seen {start:.0f}" if start else ""
        print(
            f"  {r['task']}: O(N) arrays MiB, {parts}{inherited}; train wall {r['train_wall_s']:.0f} s"
        )
    for pair, values in summary["ratios"].items():
        text = ", ".join(f"{k} {v:.2f}" for k, v in values.items())
        print(f"  ratio {pair}: {text}")
    if summary["evaluate"]:
        print("\nevaluation (evaluate_checkpoint on the test split)")
        print(
            f"{'task':10} {'test nodes':>10} {'seconds':>8} {'peak RSS MiB':>12} {'delta_nrmse':>11}"
        )
        for r in summary["evaluate"]:
            print(
                f"{r['task']:10} {r['test_nodes']:>10,} {r['eval_s']:>8.1f} "
                f"{r['peak_rss_mib']:>12.0f} {r['delta_nrmse']:>11.4f}"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["km-tiny", "km-1m"])
    parser.add_argument("--model", default="roma")
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=10, help="steps left out of the mean")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers")
    parser.add_argument("--batches", type=int, default=20, help="batches timed in-process")
    parser.add_argument("--no-eval", action="store_true", help="skip the evaluation")
    parser.add_argument("--out", default=None, help="folder for the runs (default: temp)")
    parser.add_argument("--json", default=None, help="also write the result here")
    parser.add_argument("--child-train", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-eval", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)

    if args.child_train:
        print(json.dumps(train_child(args, args.child_train)))
        return 0
    if args.child_eval:
        print(json.dumps(eval_child(*args.child_eval)))
        return 0

    with tempfile.TemporaryDirectory(prefix="roma-scale-") as tmp:
        out = args.out or tmp
        Path(out).mkdir(parents=True, exist_ok=True)
        common = ["--model", args.model, "--size", args.size, "--steps", str(args.steps),
                  "--warmup", str(args.warmup), "--batches", str(args.batches), "--out", out]  # fmt: skip
        if args.workers is not None:
            common += ["--workers", str(args.workers)]
        train_rows, eval_rows = [], []
        for task in args.tasks:
            print(f"train {args.model}-{args.size} on {task}, {args.steps} steps ...", flush=True)
            row = run_child([*common, "--child-train", task])
            print(f"  {row['step_mean_s'] * 1e3:.1f} ms/step, peak RSS "
                  f"{row['peak_rss_main_mib']:.0f} MiB", flush=True)  # fmt: skip
            train_rows.append(row)
            if not args.no_eval:
                print(f"evaluate on {task}'s test split ...", flush=True)
                eval_rows.append(run_child(["--child-eval", task, row["checkpoint"]]))
        summary = summarize(train_rows, eval_rows)
    print_report(summary)
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
