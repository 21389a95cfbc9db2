"""Benchmark task generation: the Kuramoto right-hand side, and end-to-end generation.

Prints, in one run:

(a) the Kuramoto right-hand side at ``--nodes`` (default 1M) nodes: ours
    (:meth:`KuramotoSystem.rhs`: torch's vectorized sin/cos + two CSR mat-vecs, in place)
    versus a plain scipy.sparse CSR implementation of the same two products (numpy sin/cos)
    versus a naive per-edge-sine implementation (``sin(θ_j − θ_i)`` for every edge), each
    checked against the others, with time ratios;
(b) the end-to-end time and peak memory (max RSS of a child process) of
    ``roma_bench.data.generation.generate_task`` for ``--e2e TASK`` (default km-tiny;
    ``--e2e km-1m`` takes many minutes);
(c) with ``--simulate TASK``: the card's simulation alone (graph + system + RK4, no
    store), optionally only ``--steps`` steps, linearly extrapolated to the card's steps
    (labelled as such).

Usage::

    python benchmarks/generate.py                    # (a) at 1M nodes + (b) for km-tiny
    python benchmarks/generate.py --e2e km-1m        # (a) + (b) for km-1m
    python benchmarks/generate.py --skip-rhs --simulate km-314k --steps 200
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def bench_graph(
    nodes: int, seed: int = 0, kind: str = "hyperbolic", cache: str | None = None
) -> tuple[np.ndarray, np.ndarray, str]:
    """Bidirected edges ``(src, dst, label)`` of a ``kind`` graph: H1's hyperbolic graph
    (falls back to random when roma_bench.graphs lacks it) or a random graph of average
    degree 3. ``cache``: an .npz file to reuse the edges from (the 1M hyperbolic graph
    takes minutes and ~8 GB to build)."""
    if cache and Path(cache).is_file():
        with np.load(cache) as data:
            if int(data["nodes"]) == nodes and str(data["kind"]) == kind:
                return data["src"], data["dst"], str(data["label"]) + f" (cached in {cache})"
    hyperbolic_graph = None
    if kind == "hyperbolic":
        with contextlib.suppress(ImportError):
            from roma_bench.graphs import hyperbolic_graph
    if hyperbolic_graph is not None:
        graph = hyperbolic_graph(nodes, 3.0, 3.0, 0.0, seed)
        src, dst = (e.numpy().astype(np.int64) for e in graph.edges())
        label = "hyperbolic (roma_bench.graphs.hyperbolic_graph, avg_degree 3, gamma 3)"
    else:
        kind = "random"
        rng = np.random.default_rng(seed)
        a = rng.integers(0, nodes, int(1.5 * nodes))
        b = rng.integers(0, nodes, a.size)
        keep = a != b
        a, b = a[keep], b[keep]
        src, dst = np.concatenate([a, b]), np.concatenate([b, a])
        label = "random (uniform pairs, avg degree 3, no locality: a pessimistic memory layout)"
    if cache:
        np.savez(cache, src=src, dst=dst, nodes=nodes, kind=kind, label=label)
    return src, dst, label


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Minimum wall time of ``fn()`` over ``repeats`` runs (after one warm-up), in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def rhs_benchmark(nodes: int, repeats: int, kind: str, cache: str | None) -> None:
    """(a): ours vs scipy CSR vs naive per-edge sines, same numbers, timed."""
    import torch

    from roma_bench.dynamics.kuramoto import KuramotoSystem
    from roma_bench.dynamics.params import KuramotoParams

    torch.set_num_threads(1)  # compare kernels, not thread counts (the machine is shared)
    start = time.perf_counter()
    src, dst, label = bench_graph(nodes, kind=kind, cache=cache)
    print(f"(a) Kuramoto RHS, N = {nodes:,}, E = {src.size:,} directed edges, graph: {label}")
    print(f"    graph built in {time.perf_counter() - start:.1f} s")
    system = KuramotoSystem(src, dst, nodes, KuramotoParams(), total_time=50.0, seed=0)
    theta = system.initial_state()
    t = 17.3
    weights_csr = system.weights  # the same CSR matrix for the scipy reference
    coo = weights_csr.tocoo()
    edge_src, edge_dst, edge_w = coo.col, coo.row, coo.data
    omega, coupling = system.omega, system.coupling(t)

    def scipy_rhs() -> np.ndarray:
        sin, cos = np.sin(theta), np.cos(theta)
        return omega + coupling * (cos * (weights_csr @ sin) - sin * (weights_csr @ cos))

    def naive_rhs() -> np.ndarray:
        messages = edge_w * np.sin(theta[edge_src] - theta[edge_dst])
        return omega + coupling * np.bincount(edge_dst, weights=messages, minlength=nodes)

    ours = system.rhs(t, theta)
    for name, fn in (("scipy", scipy_rhs), ("naive", naive_rhs)):
        gap = np.abs(fn() - ours).max()
        print(f"    max |ours − {name}| = {gap:.2e}")
        if gap > 1e-10:
            raise SystemExit(f"benchmark: ours and {name} disagree by {gap:.2e}")
    timings = {
        "ours": best_time(lambda: system.rhs(t, theta), repeats),
        "scipy CSR": best_time(scipy_rhs, repeats),
        "naive per-edge": best_time(naive_rhs, repeats),
    }
    for name, seconds in timings.items():
        ratio = seconds / timings["ours"]
        print(f"    {name:<15} {seconds * 1e3:8.1f} ms/RHS   {ratio:5.2f}× ours")
    sin_t = best_time(lambda: system._sincos(theta), repeats)
    mv_t = best_time(lambda: weights_csr @ theta, repeats)
    print(f"    (ours: sin+cos {sin_t * 1e3:.1f} ms, one CSR mat-vec {mv_t * 1e3:.1f} ms)")
    rk4 = 4 * timings["ours"]
    print(f"    ⇒ ~{rk4:.2f} s of RHS per RK4 step (4 RHS); 2500 steps ≈ {2500 * rk4 / 60:.1f} min")


def e2e_child(task: str, out_dir: str, resume: bool) -> None:
    """Runs in a child process: generate ``task`` into ``out_dir`` and print one JSON line."""
    from roma_bench.cards import load_card
    from roma_bench.data.generation import generate_task

    card = load_card(task)
    out = Path(out_dir) / f"{card.name}.h5"
    start = time.perf_counter()
    generate_task(card, out, resume=resume, progress=True)
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {"seconds": seconds, "bytes": out.stat().st_size, "frames": card.simulation.frames}
        )
    )


def simulate_child(task: str, steps: int | None) -> None:
    """Runs in a child process: the card's graph, system and RK4 steps, no store."""
    import torch

    from roma_bench.cards import load_card
    from roma_bench.dynamics.integrate import simulate
    from roma_bench.dynamics.systems import build_system
    from roma_bench.graphs.backend import make_graph

    card = load_card(task)
    g, sim = card.graph, card.simulation
    start = time.perf_counter()
    try:
        from roma_bench.graphs import hyperbolic_graph

        graph = hyperbolic_graph(g.nodes, g.avg_degree, g.gamma, g.temperature, g.seed)
        label = "hyperbolic"
    except ImportError:  # H1's generator not there yet: same size, random stand-in
        src, dst, label = bench_graph(g.nodes, g.seed, kind="random")
        graph = make_graph(torch.from_numpy(src), torch.from_numpy(dst), num_nodes=g.nodes)
        rng = np.random.default_rng(g.seed)
        graph.ndata["radius"] = torch.from_numpy(rng.uniform(0.0, 30.0, g.nodes))
        graph.ndata["community"] = torch.from_numpy(rng.integers(0, 1000, g.nodes))
    graph_s = time.perf_counter() - start
    system = build_system(card, graph)
    run = sim.steps if steps is None else min(steps, sim.steps)
    start = time.perf_counter()
    for _ in simulate(system, system.initial_state(), 0, run, sim.dt, sim.save_every):
        pass
    sim_s = time.perf_counter() - start
    result = {
        "graph": label,
        "graph_seconds": graph_s,
        "steps": run,
        "card_steps": sim.steps,
        "sim_seconds": sim_s,
    }
    print(json.dumps(result))


def run_child(args: list[str]) -> tuple[dict, float]:
    """Run this script in a child process; return its JSON result and its peak RSS in GB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed with exit code {proc.returncode}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        print("    (peak RSS below an earlier child's; the figure is an upper bound)")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return result, peak_kb / 1024**2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000, help="nodes for (a)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats for (a)")
    parser.add_argument("--graph", choices=["hyperbolic", "random"], default="hyperbolic")
    parser.add_argument("--graph-cache", default=None, help=".npz to reuse (a)'s graph from")
    parser.add_argument("--skip-rhs", action="store_true", help="skip (a)")
    parser.add_argument("--e2e", default="km-tiny", help="task for (b); 'none' skips it")
    parser.add_argument("--out", default=None, help="folder for (b)'s file (default: a temp dir)")
    parser.add_argument("--simulate", default=None, help="task for (c)")
    parser.add_argument("--steps", type=int, default=None, help="steps for (c) (default: all)")
    parser.add_argument("--child-e2e", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-simulate", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress lines show up when piped to a file

    if args.child_e2e:
        e2e_child(*args.child_e2e, resume=False)
        return 0
    if args.child_simulate:
        simulate_child(args.child_simulate, args.steps)
        return 0

    if not args.skip_rhs:
        rhs_benchmark(args.nodes, args.repeats, args.graph, args.graph_cache)
    if args.e2e != "none":
        with tempfile.TemporaryDirectory(dir=args.out) as tmp:
            print(f"(b) end-to-end generate_task({args.e2e}) in a child process ...", flush=True)
            result, peak_gb = run_child(["--child-e2e", args.e2e, tmp])
            print(
                f"    {args.e2e}: {result['seconds']:.1f} s ({result['seconds'] / 60:.1f} min), "
                f"peak RSS {peak_gb:.2f} GB, {result['frames']} frames, "
                f"file {result['bytes'] / 1024**2:.1f} MiB"
            )
    if args.simulate:
        print(f"(c) simulation only (graph + RK4, no store) of {args.simulate} ...", flush=True)
        child = ["--child-simulate", args.simulate]
        if args.steps is not None:
            child += ["--steps", str(args.steps)]
        result, peak_gb = run_child(child)
        per_step = result["sim_seconds"] / result["steps"]
        full = per_step * result["card_steps"]
        label = "" if result["steps"] == result["card_steps"] else " (EXTRAPOLATED linearly)"
        print(
            f"    graph ({result['graph']}) {result['graph_seconds']:.1f} s; {result['steps']} steps in "
            f"{result['sim_seconds']:.1f} s = {per_step * 1e3:.1f} ms/step; all "
            f"{result['card_steps']} steps: {full:.0f} s = {full / 60:.1f} min{label}; "
            f"peak RSS {peak_gb:.2f} GB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
