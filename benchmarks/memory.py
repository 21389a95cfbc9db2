"""Memory accounting shared by the benchmark scripts: current and peak RSS of this process
(with a reset of the peak mark), the peak of its DataLoader worker, and the bytes of the O(N)
arrays (task graph, node arrays, sampler tables) a process holds, each tensor storage counted
once. Imported as ``memory`` (``python benchmarks/<name>.py`` puts this folder first on
``sys.path``)."""

from __future__ import annotations

import gc
import os
import resource
import threading
from pathlib import Path

MIB = 1024**2


def rss_mib() -> float:
    """Resident memory of this process now, in MiB (``VmRSS``; NaN where /proc is missing)."""
    return _status_kib(os.getpid()).get("VmRSS", float("nan")) / 1024


def reset_peak_rss() -> float:
    """Collect garbage, reset the peak-RSS mark to the current RSS (Linux ``VmHWM``; where
    that is unsupported :func:`peak_rss_mib` keeps the lifetime peak) and return the current
    RSS in MiB."""
    from roma_bench.tracking.environment import reset_cpu_peak_memory

    gc.collect()
    reset_cpu_peak_memory()
    return rss_mib()


def peak_rss_mib() -> float:
    """Peak RSS of this process in MiB (``VmHWM``: since start or the last reset)."""
    from roma_bench.tracking.environment import cpu_peak_memory_mb

    return cpu_peak_memory_mb()


def children_peak_rss_mib() -> float:
    """Peak RSS of the largest waited-for descendant, in MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _status_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of process ``pid`` in KiB (empty once it has exited)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {
        key: int(line.split()[1])
        for line in lines
        for key in ("VmRSS", "VmHWM")
        if line.startswith(key + ":")
    }


class ChildWatch(threading.Thread):
    """Polls this process's children (the DataLoader worker) every ``interval`` seconds:
    per child, its RSS when first seen (≈ what it inherited at the fork) and its peak RSS."""

    def __init__(self, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.interval, self.parent = interval, os.getpid()
        self.seen: dict[int, dict[str, float]] = {}
        self._done = threading.Event()

    def _children(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.parent:
                pids.append(int(entry.name))
        return pids

    def run(self) -> None:
        while not self._done.wait(self.interval):
            for pid in self._children():
                status = _status_kib(pid)
                if not status:
                    continue
                row = self.seen.setdefault(pid, {"first_mib": status["VmRSS"] / 1024})
                row["peak_mib"] = max(row.get("peak_mib", 0.0), status["VmHWM"] / 1024)

    def stop(self) -> dict[str, float]:
        """The largest child's numbers (``{}`` if none was seen)."""
        self._done.set()
        self.join()
        return max(self.seen.values(), key=lambda row: row["peak_mib"], default={})


def tensor_bytes(tensors, seen: set[int] | None = None) -> int:
    """Bytes of the storages behind the torch ``tensors``, each storage counted once
    (``seen``: storage addresses already counted, updated)."""
    seen = set() if seen is None else seen
    total = 0
    for t in tensors:
        storage = t.untyped_storage()
        if storage.data_ptr() in seen or storage.nbytes() == 0:
            continue
        seen.add(storage.data_ptr())
        total += storage.nbytes()
    return total


def graph_tensors(graph) -> list:
    """Every tensor a DGL graph holds: the sparse formats created so far, ndata and edata."""
    tensors = []
    for fmt in graph.formats()["created"]:
        tensors.extend(graph.adj_tensors(fmt))
    tensors.extend(graph.ndata[key] for key in graph.ndata)
    tensors.extend(graph.edata[key] for key in graph.edata)
    return tensors


def on_arrays(store, sampler=None) -> dict[str, int]:
    """Bytes of the O(N) arrays a process holding ``store`` (and ``sampler``) keeps.

    ``graph``: the whole task graph (formats, ndata), ``nodes``: coords, partition and the
    node split, ``sampler``: the random-walk sampler's training-node graph, its CSR and its
    walk tables.
    """
    import torch

    seen: set[int] = set()
    out = {
        "graph": tensor_bytes(graph_tensors(store.graph), seen),
        "nodes": tensor_bytes(
            [store.coords, store.partition, store.split.train, store.split.val, store.split.test],
            seen,
        ),
    }
    if sampler is not None:
        out["sampler"] = tensor_bytes(
            [*graph_tensors(sampler.graph), sampler.original_ids, sampler._indptr,
             sampler._indices, *map(torch.from_numpy, sampler._walk_tables)],
            seen,
        )  # fmt: skip
    return out
