"""ROMA training-step time and peak memory (tiny, small, the ≈3M "anchor"), DGL vs torch dispatch.

Every configuration runs in a fresh subprocess: it samples its training subgraphs from a task
store, drops the store, resets the kernel's peak-RSS counter (``/proc/self/clear_refs``) and
then times ``--steps`` optimizer steps (forward + sMSPE + aux losses, backward, AdamW) after
one warm-up step. Reported: median wall and CPU (process) seconds per step and the peak
resident memory during the steps. Sources: ``km-tiny`` and the largest other Kuramoto
store found (``km-1m`` first; pass ``--large PATH``); the peak-memory ratio large/tiny at
equal subgraph size must stay ≤ 1.2 (memory does not grow with the whole graph).

Anchor: the configuration the reference JAX code was timed at (4.45 s median per step on
this 2-core machine, after a 65 s compile): ``roma_bench.models.roma.config.ANCHOR`` with
512-node subgraphs, lookback 64 (the store's shorter history is left-padded by the model,
same compute), 16+16 encodings (zero-padded), horizon 1 (the reference's ``tau_max``).
Target: ≤ 2.2 s. Wall time on a machine shared with other jobs is inflated; CPU time is
also printed (``OMP_NUM_THREADS=1`` avoids thread oversubscription under load).

    python benchmarks/roma_step.py [--tiny PATH] [--large PATH] [--sizes tiny small]
        [--nodes 128 512 2048] [--backends dgl torch] [--steps 5] [--no-anchor]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from memory import peak_rss_mib, reset_peak_rss

REFERENCE_ANCHOR_S = 4.45


def worker(args: argparse.Namespace) -> dict:
    """One configuration, in this process; returns the measurements."""
    import dataclasses
    import gc

    import torch

    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.spec import task_spec
    from roma_bench.data.store import TaskStore
    from roma_bench.models.roma.config import ANCHOR
    from roma_bench.registry import build_model
    from roma_bench.training.normalization import harness_model

    torch.manual_seed(0)
    store = TaskStore(args.store)
    store.card.batch.nodes = args.nodes
    loader = WindowLoader(store, "train", seed=0)
    batches = [loader.sample() for _ in range(2)]
    spec = task_spec(store.card)
    overrides: dict = {"backend": args.backend}
    size = args.size
    if size == "anchor":
        size, overrides = "tiny", {**ANCHOR, **overrides}
        spec = dataclasses.replace(spec, lookback=64, horizon=1, encoding_sizes=(16, 16))
        batches = [dataclasses.replace(b, target=b.target[:, :1].contiguous()) for b in batches]
    model = build_model("roma", spec, size, overrides)
    harness = harness_model(model, store.normalization, "increments")  # as training runs it
    del loader, store
    gc.collect()
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)

    def step(batch) -> None:
        out = harness(batch)
        err = (out.prediction - batch.target).abs()
        data = (err / (out.prediction.abs() + batch.target.abs() + 1e-4)).square().mean()
        loss = data + sum(out.aux_losses.values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step(batches[0])  # warm-up
    baseline = reset_peak_rss()  # the peak-RSS mark starts at the current RSS
    walls, cpus = [], []
    for k in range(args.steps):
        t, c = time.perf_counter(), time.process_time()
        step(batches[k % len(batches)])
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return {
        "params": model.num_parameters(),
        "nodes": batches[0].num_nodes,
        "wall_s": statistics.median(walls),
        "cpu_s": statistics.median(cpus),
        "peak_mb": peak_rss_mib(),
        "baseline_mb": baseline,
    }


def run_config(store: Path, size: str, nodes: int, backend: str, steps: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--store",
        str(store),
        "--size",
        size,
        "--nodes",
        str(nodes),
        "--backend",
        backend,
        "--steps",
        str(steps),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def find_large(tiny: Path) -> tuple[Path, str]:
    from roma_bench.paths import task_data_path

    for name in ("km-1m", "km-314k", "km-38k"):
        path = Path(task_data_path(name))
        if path.is_file():
            return path, name
    return tiny, "km-tiny (no larger Kuramoto store found; generate km-1m for the real check)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--size", default="tiny", help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--tiny", type=Path, help="km-tiny store (default: the data folder)")
    parser.add_argument("--large", type=Path, help="large store (default: km-1m if present)")
    parser.add_argument("--sizes", nargs="*", default=["tiny", "small"], help="(none: anchor only)")
    parser.add_argument("--nodes", nargs="+", type=int, default=[128, 512, 2048])
    parser.add_argument("--backends", nargs="+", default=["dgl", "torch"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-anchor", action="store_true")
    args = parser.parse_args(argv)
    if args.worker:
        args.nodes = args.nodes[0]
        print(json.dumps(worker(args)))
        return 0

    from roma_bench.paths import task_data_path

    tiny = args.tiny or Path(task_data_path("km-tiny"))
    if not tiny.is_file():
        print(f"no km-tiny store at {tiny}; run `roma-bench generate km-tiny` or pass --tiny")
        return 2
    large, large_name = (args.large, args.large.stem) if args.large else find_large(tiny)
    print(f"stores: small = {tiny}, large = {large} ({large_name})")
    print(
        f"{'size':<7}{'nodes':>6} {'backend':<7}| {'tiny: wall s':>12}{'cpu s':>7}{'peak MB':>9} "
        f"| {'large: wall s':>13}{'cpu s':>7}{'peak MB':>9} | {'mem ratio':>9}"
    )
    for size in args.sizes:
        for nodes in args.nodes:
            for backend in args.backends:
                a = run_config(tiny, size, nodes, backend, args.steps)
                b = run_config(large, size, nodes, backend, args.steps)
                if "error" in a or "error" in b:
                    print(
                        f"{size:<7}{nodes:>6} {backend:<7}| error: {a.get('error') or b.get('error')}"
                    )
                    continue
                ratio = b["peak_mb"] / a["peak_mb"]
                flag = "ok" if ratio <= 1.2 else "GROWS"
                if a["nodes"] != b["nodes"]:  # the small store has fewer training nodes
                    flag = f"n/a: {a['nodes']} vs {b['nodes']} nodes"
                print(
                    f"{size:<7}{nodes:>6} {backend:<7}| {a['wall_s']:>12.3f}{a['cpu_s']:>7.3f}"
                    f"{a['peak_mb']:>9.0f} | {b['wall_s']:>13.3f}{b['cpu_s']:>7.3f}"
                    f"{b['peak_mb']:>9.0f} | {ratio:>6.2f} {flag}"
                )
    if not args.no_anchor:
        print(
            f"\nanchor (≈3M params, 512-node subgraphs) vs the reference JAX median "
            f"{REFERENCE_ANCHOR_S} s/step (target ≤ {REFERENCE_ANCHOR_S / 2:.2f} s):"
        )
        for backend in args.backends:
            r = run_config(tiny, "anchor", 512, backend, args.steps)
            if "error" in r:
                print(f"  {backend}: error: {r['error']}")
                continue
            print(
                f"  {backend:<6} params {r['params']:,}  wall {r['wall_s']:.3f} s  cpu "
                f"{r['cpu_s']:.3f} s  peak {r['peak_mb']:.0f} MB  ratio ours/ref: wall "
                f"{r['wall_s'] / REFERENCE_ANCHOR_S:.2f}, cpu {r['cpu_s'] / REFERENCE_ANCHOR_S:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
