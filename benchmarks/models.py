"""Forward+backward time and peak memory of every registered model at one size, one batch.

Every model sees the same batch (a ``card.batch.nodes``-node training subgraph of km-tiny,
generated into a temporary folder unless ``--store`` points at one), runs ``--warmup``
untimed steps, then ``--repeats`` timed forward+backward passes (median reported). Peak
memory is CUDA's ``max_memory_allocated`` on a GPU; on the CPU each model runs in a forked
child process and its peak is the child's peak resident set (``VmHWM``, reset through
``/proc/self/clear_refs``) minus its resident set before the model was built (parameters,
gradients and activations; no optimizer state).
Ratios are against ``roma`` measured in the same run.

    python benchmarks/models.py                       # CPU, tiny sizes
    python benchmarks/models.py --device cuda --size tiny --repeats 20
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's baselines/

from memory import peak_rss_mib, reset_peak_rss

from roma_bench.cards import load_card
from roma_bench.data.generation import generate_task
from roma_bench.data.loader import WindowLoader
from roma_bench.data.spec import task_spec
from roma_bench.data.store import TaskStore
from roma_bench.registry import available_models, build_model


def measure(
    model, batch, device: torch.device, warmup: int, repeats: int, rss_before: float
) -> tuple[float, float]:
    """``(median seconds per forward+backward, peak MiB)`` of ``model`` on ``batch``."""

    def step() -> None:
        inner = getattr(model, "model", model)  # behind the harness
        if hasattr(inner, "clear_cache"):  # the oracle: integrate every time, not a cache hit
            inner.clear_cache()
        out = model(batch)
        loss = (out.prediction - batch.target).square().mean() + sum(out.aux_losses.values())
        if loss.requires_grad:
            model.zero_grad(set_to_none=True)
            loss.backward()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = peak_rss_mib() - rss_before
    return statistics.median(times), peak


def run_model(name: str, spec, batch, args, stats) -> tuple[int, float, float]:
    """``(parameters, seconds, peak MiB)`` of model ``name`` (built and run in this process),
    behind the harness's normalization (``stats``: the store's) as training runs it."""
    from roma_bench.training.normalization import harness_model

    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rss_before = reset_peak_rss()
    model = build_model(name, spec, args.size).to(device)
    harness = harness_model(model, stats, "increments")
    seconds, peak = measure(
        harness, batch.to(device), device, args.warmup, args.repeats, rss_before
    )
    return model.num_parameters(), seconds, peak


def _child(conn, name: str, spec, batch, args, stats) -> None:
    try:
        conn.send(run_model(name, spec, batch, args, stats))
    except BaseException as err:  # report, never hang the parent
        conn.send(err)
    finally:
        conn.close()


def run_isolated(name: str, spec, batch, args, stats) -> tuple[int, float, float]:
    """On the CPU, each model runs in a forked child so its RSS peak is its own."""
    if args.device != "cpu" or not hasattr(os, "fork"):
        return run_model(name, spec, batch, args, stats)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, name, spec, batch, args, stats))
    process.start()
    result = parent.recv()
    process.join()
    if isinstance(result, BaseException):
        raise RuntimeError(f"model {name!r} failed: {result!r}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", default="km-tiny")
    parser.add_argument(
        "--store", help="an existing task store (default: generate one to a temp dir)"
    )
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--models", nargs="*", help="subset of models (default: all registered)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        card = load_card(args.task)
        path = (
            Path(args.store) if args.store else generate_task(card, Path(tmp) / f"{card.name}.h5")
        )
        with TaskStore(path) as store:
            batch = next(iter(WindowLoader(store, "train", seed=0)))
            names = args.models or available_models()
            spec = task_spec(store.card, data_path=str(path))
            rows = []
            for name in names:
                params, seconds, peak = run_isolated(name, spec, batch, args, store.normalization)
                rows.append((name, params, seconds, peak))
                print(f"  {name}: {seconds * 1e3:.1f} ms", file=sys.stderr, flush=True)

    reference = {name: (sec, mem) for name, _, sec, mem in rows}.get("roma")
    print(
        f"\n{args.task}, size {args.size}, {batch.num_nodes}-node batch, device {device}, "
        f"torch threads {torch.get_num_threads()}, median of {args.repeats}\n"
    )
    print("| model | params | fwd+bwd ms | × roma | peak MiB | × roma |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, params, seconds, peak in sorted(rows, key=lambda r: r[2]):
        t_ratio = f"{seconds / reference[0]:.2f}" if reference else "–"
        m_ratio = f"{peak / reference[1]:.2f}" if reference and reference[1] > 0 else "–"
        print(f"| {name} | {params:,} | {seconds * 1e3:.1f} | {t_ratio} | {peak:.0f} | {m_ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
