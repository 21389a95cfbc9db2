"""Time the training loader: ms per batch, split into sampling, HDF5 reads and encodings.

    python benchmarks/loader.py data/km-1m.h5 [--batches 50] [--seed 0]
    python benchmarks/loader.py km-tiny            # the default store of a task name

Prints the mean (and median) wall and CPU ms per training batch of ``WindowLoader(store, 'train')``,
the time of each piece measured alone on the same subgraphs and windows (the positional
encodings with the Laplacian over the whole subgraph and per connected component, the
card option ``encodings.laplacian_scope``, side by side), the
field read against two references: h5py's own fancy indexing of the same rows and frames
and our chunked reads (``TaskStore(memory_bytes=0)``; a small store's field is otherwise
read whole into memory once), and
a batch with its encodings read from a warm on-disk cache (:mod:`roma_bench.data.encoding_cache`,
every run of a board after the first on a seed) against filling that cache.
Target (issue 3): a 512-node training batch from km-1m in under 50 ms. On a shared machine
the wall time includes waiting for a core; the CPU time is what the batch costs. Run with
``OMP_NUM_THREADS=1`` to measure as a DataLoader worker would (torch sets 1 thread there).
Each batch reads fresh chunks: the store is opened with its default chunk cache, and
window starts are random, so little is reused between batches.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _ms(samples: list[float]) -> str:
    mean, median = 1000 * statistics.mean(samples), 1000 * statistics.median(samples)
    return f"{mean:7.2f} ms (median {median:.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", help="path of a task store, or a task name (its default path)")
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from scipy.sparse.csgraph import connected_components

    from roma_bench.data.encoding_cache import EncodingCache
    from roma_bench.data.loader import WindowLoader
    from roma_bench.data.store import TaskStore
    from roma_bench.graphs import positional_encodings
    from roma_bench.graphs.backend import NID
    from roma_bench.graphs.encodings import adjacency
    from roma_bench.graphs.sampler import stepwise_walks
    from roma_bench.paths import task_data_path

    path = Path(args.store)
    if not path.exists():
        path = task_data_path(args.store)
    t_open = time.perf_counter()
    store = TaskStore(path)
    loader = WindowLoader(store, "train", seed=args.seed)
    loader.encoding_cache.enabled = False  # every encoding computed: what a seed's first run pays
    loader.sample()  # warm-up: loads the graph, split and partition once
    setup = time.perf_counter() - t_open
    card = store.card
    print(f"{store}: chunks {store._file['field'].chunks}, setup {setup:.2f} s")

    totals, cpu, sizes, batches = [], [], [], []
    for _ in range(args.batches):
        t0, c0 = time.perf_counter(), time.process_time()
        batch = loader.sample()
        totals.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        sizes.append(batch.num_nodes)
        batches.append(batch)

    kappa, horizon = card.window.lookback, card.window.horizon
    sampler = loader._sampler
    chunked = TaskStore(path, memory_bytes=0)  # HDF5 selections on every read
    sampling, reads, read_cpu, fancy, encodings, per_component, components, chunk_reads = (
        [] for _ in range(8)
    )
    stepwise = []  # the same samples with the reference walks (one torch op per step)
    numpy_walks = sampler._walks

    def reference_walks(roots, generator):
        return stepwise_walks(
            sampler._indptr, sampler._indices, roots, sampler.walk_length, generator
        )

    for k, batch in enumerate(batches):
        for walks, times in ((numpy_walks, sampling), (reference_walks, stepwise)):
            sampler._walks = walks
            t0 = time.perf_counter()
            sampler.sample(torch.Generator().manual_seed(k))
            times.append(time.perf_counter() - t0)
        sampler._walks = numpy_walks
        ids = batch.node_ids.numpy()
        frame = round(batch.t0 / store.frame_dt)
        start, stop = frame - kappa + 1, frame + horizon + 1
        t0, c0 = time.perf_counter(), time.process_time()
        store.read_field(ids, start, stop)
        reads.append(time.perf_counter() - t0)
        read_cpu.append(time.process_time() - c0)
        t0 = time.perf_counter()
        store._file["field"][np.sort(ids), start:stop]
        fancy.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        chunked.read_field(ids, start, stop)
        chunk_reads.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        positional_encodings(batch.graph, card.encodings.laplacian, card.encodings.random_walk)
        encodings.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        positional_encodings(batch.graph, card.encodings.laplacian, card.encodings.random_walk,
                             laplacian_scope="component")  # fmt: skip
        per_component.append(time.perf_counter() - t0)
        components.append(connected_components(adjacency(batch.graph), directed=False)[0])
        assert NID in batch.graph.ndata

    print(
        f"nodes per batch: mean {statistics.mean(sizes):.0f} (card batch.nodes = {card.batch.nodes})"
    )
    print(f"train batch (total)     {_ms(totals)}; CPU time {_ms(cpu)}")
    print(f"  subgraph sampling     {_ms(sampling)}")
    ratio = statistics.median(sampling) / statistics.median(stepwise)
    print(f"    reference: stepwise torch walks {_ms(stepwise)}; ours/reference {ratio:.2f}")
    memory = "whole field in memory" if store._field is not None else "chunked: field too large"
    print(f"  field read (ours)     {_ms(reads)}; CPU time {_ms(read_cpu)} ({memory})")
    print(
        f"  field read (chunked)  {_ms(chunk_reads)} (memory_bytes=0); in memory is "
        f"{statistics.mean(chunk_reads) / statistics.mean(reads):.0f}x faster"
    )
    print(f"  positional encodings  {_ms(encodings)} (Laplacian over the whole subgraph)")
    print(
        f"    per component       {_ms(per_component)}: "
        f"{statistics.mean(per_component) / statistics.mean(encodings):.2f}x the whole-subgraph "
        f"time; {statistics.mean(components):.0f} connected components per subgraph on average"
    )
    print(
        f"reference: h5py fancy-index read of the same rows {_ms(fancy)}; "
        f"ours is {statistics.mean(fancy) / statistics.mean(reads):.2f}x faster"
    )
    # batches 0 … N−1 of the stream twice over a fresh on-disk encoding cache: the second
    # pass is what every later run of a board on this seed pays
    with tempfile.TemporaryDirectory() as tmp:
        loader.encoding_cache = EncodingCache.for_store(store, root=Path(tmp))
        passes = []
        for _ in range(2):
            times = []
            for k in range(args.batches):
                t0 = time.perf_counter()
                loader.sample(seed=k)
                times.append(time.perf_counter() - t0)
            passes.append(times)
    print(f"encoding cache: filling {_ms(passes[0])}; warm {_ms(passes[1])}")
    t0 = time.perf_counter()
    eval_batches = WindowLoader(store, "test").batches()
    print(
        f"test batches: {len(eval_batches)} × {eval_batches[0].num_nodes} nodes built in "
        f"{time.perf_counter() - t0:.2f} s (once, then cached)"
    )


if __name__ == "__main__":
    main()
