"""benchmarks/scale.py's pieces on km-tiny: the O(N) array accounting (benchmarks/memory.py)
and the summary."""

from __future__ import annotations

import importlib.util
import mmap
import sys
from pathlib import Path

import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    """``benchmarks/<name>.py`` as a module, with benchmarks/ on ``sys.path`` as when the
    script runs (its sibling modules import by plain name)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scale():
    return _load("scale")


def _memory():
    return _load("memory")


def test_tensor_bytes_counts_each_storage_once():
    memory = _memory()
    a = torch.zeros(10, dtype=torch.int64)
    assert memory.tensor_bytes([a, a[2:], a.view(2, 5)]) == 80
    seen: set[int] = set()
    assert memory.tensor_bytes([a], seen) == 80
    assert memory.tensor_bytes([a, torch.zeros(3)], seen) == 12  # a already counted


def test_on_arrays_counts_the_whole_graph_and_the_sampler(km_tiny_store):
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.store import TaskStore

    memory = _memory()
    with TaskStore(km_tiny_store) as store:
        loader = WindowLoader(store, "train", seed=0)
        loader.sample(seed=1)
        arrays = memory.on_arrays(store, loader._sampler)
        n, e = store.num_nodes, store.graph.num_edges()
        # at least the COO edges (2 × E int64) and the node arrays (coords, partition, split)
        assert arrays["graph"] >= 2 * e * 8
        assert arrays["nodes"] == n * 2 * 4 + n * 8 + n * 8
        train_nodes = len(store.split.train)
        assert arrays["sampler"] >= (train_nodes + 1) * 8  # its CSR row pointers at least
        assert memory.on_arrays(store).keys() == {"graph", "nodes"}


def test_reset_peak_rss_starts_the_peak_at_the_current_rss():
    memory = _memory()
    before = memory.reset_peak_rss()
    assert before > 0  # Linux /proc
    # 64 MiB of fresh pages, touched: an anonymous mapping, as an allocator (torch's, glibc's)
    # may hand out memory this process already has resident and leave the RSS where it was
    block = mmap.mmap(-1, 64 * 1024**2)
    block.write(b"\1" * len(block))
    peak = memory.peak_rss_mib()
    block.close()
    assert peak >= before + 60
    assert memory.reset_peak_rss() < peak


def test_summarize_subtracts_the_arrays_and_forms_ratios(capsys):
    scale = _scale()
    mib = scale.MIB

    def row(task, step, rss, graph):
        return {
            "task": task, "nodes": 10, "edges": 20, "workers": 1, "val_nodes": 4,
            "step_mean_s": step, "step_median_s": step, "step_cpu_s": step,
            "batch_mean_s": 0.01, "batch_cpu_s": 0.01, "batch_nodes_mean": 5,
            "val_round_s": 1.0, "train_wall_s": 9.0, "peak_rss_steps_mib": rss,
            "peak_rss_main_mib": rss, "peak_rss_worker_mib": rss / 2,
            "on_arrays_bytes": {
                "main": {"graph": graph * mib, "nodes": 0},
                "worker": {"graph": graph * mib, "nodes": 0, "sampler": graph * mib},
            },
        }  # fmt: skip

    summary = scale.summarize([row("small", 0.5, 1000, 0), row("large", 0.55, 1300, 200)], [])
    large = summary["train"][1]
    assert large["rss_main_minus_on_mib"] == 1100
    assert large["rss_worker_minus_on_mib"] == 650 - 400
    ratios = summary["ratios"]["large/small"]
    assert abs(ratios["step_mean_s"] - 1.1) < 1e-12
    assert abs(ratios["rss_main_minus_on_mib"] - 1.1) < 1e-12
    scale.print_report(summary)
    assert "ratio large/small: step_mean_s 1.10" in capsys.readouterr().out
