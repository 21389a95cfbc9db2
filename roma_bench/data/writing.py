"""Writing a task store: the static arrays, the empty datasets, per-block observables, the end.

The layout is :mod:`roma_bench.data.format`; :mod:`roma_bench.data.generation` drives it.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from roma_bench.cards import TaskCard
from roma_bench.data import format as fmt
from roma_bench.data.batch import difference_orders
from roma_bench.data.format import StoreError
from roma_bench.data.windows import window_starts
from roma_bench.dynamics.observables import COARSE_CHANNELS, coarse_observables, order_parameter
from roma_bench.graphs import (
    community_partition,
    hyperbolic_graph,
    metis_partition,
    node_split,
)

#: The graph generator keeps the largest connected component, which may miss ``graph.nodes``
#: by up to this fraction; the store records the actual count (``num_nodes``).
NODE_TOLERANCE = 0.02


def static_arrays(card: TaskCard) -> tuple[object, dict[str, np.ndarray], int]:
    """Build the graph, split and partition of ``card``: ``(graph, arrays, num_parts)``."""

    g = card.graph
    graph = hyperbolic_graph(g.nodes, g.avg_degree, g.gamma, g.temperature, g.seed)
    if abs(graph.num_nodes() - g.nodes) > NODE_TOLERANCE * g.nodes:
        raise StoreError(
            f"task {card.name}: the graph has {graph.num_nodes()} nodes, the card asks for "
            f"graph.nodes = {g.nodes}"
        )
    split = node_split(graph, card.split.val_nodes, card.split.test_nodes, card.split.seed)
    if card.coarse.method == "metis":
        labels = metis_partition(graph, card.coarse.parts)
    else:
        labels = community_partition(graph)
    labels = np.asarray(torch.as_tensor(labels), dtype=np.int64)
    uniq, partition = np.unique(labels, return_inverse=True)
    src, dst = graph.edges()
    frames = card.simulation.frames
    arrays = {
        "time": np.arange(frames, dtype=np.float64) * card.simulation.frame_dt,
        "graph/src": src.numpy().astype(np.int64),
        "graph/dst": dst.numpy().astype(np.int64),
        "graph/radius": graph.ndata["radius"].numpy().astype(np.float32),
        "graph/angle": graph.ndata["angle"].numpy().astype(np.float32),
        "graph/community": graph.ndata["community"].numpy().astype(np.int64),
        "partition": partition.astype(np.int64),
    }
    for name in ("train", "val", "test"):
        ids = np.asarray(torch.as_tensor(getattr(split, name)), dtype=np.int64)
        arrays[f"split/{name}"] = np.sort(ids)
    for name in ("val", "test"):
        arrays[f"windows/{name}"] = window_starts(card, name)
    return graph, arrays, len(uniq)


def _create_dataset(group: h5py.Group, name: str, data: np.ndarray, **kwargs) -> h5py.Dataset:
    """A compressed, Fletcher-32-protected dataset (plain when empty)."""
    if data.size == 0:
        return group.create_dataset(name, data=data, track_times=False)
    return group.create_dataset(
        name,
        data=data,
        compression=fmt.COMPRESSION,
        compression_opts=fmt.COMPRESSION_LEVEL,
        shuffle=True,
        fletcher32=True,
        track_times=False,
        **kwargs,
    )


def create_partial(path: Path, card: TaskCard, arrays: dict[str, np.ndarray], parts: int) -> None:
    """Write the static arrays and empty field/observable datasets of a fresh partial store."""

    n, frames = len(arrays["graph/radius"]), card.simulation.frames
    # The default (earliest) file format has no "open for writing" flag in the superblock, so a
    # partial file left by a killed process can be reopened to resume.
    with h5py.File(path, "w", track_order=True) as f:
        resolved = card.resolved()
        f.attrs.update(
            {
                "format_version": fmt.FORMAT_VERSION,
                "task": card.name,
                "version": card.version,
                "system": card.system,
                "card": json.dumps(resolved, sort_keys=True),
                "versions": json.dumps(fmt.package_versions(), sort_keys=True),
                "num_nodes": n,
                "num_frames": frames,
                "dt": card.simulation.dt,
                "save_every": card.simulation.save_every,
                "frame_dt": card.simulation.frame_dt,
                "complete": False,
            }
        )
        for name, data in arrays.items():
            ds = _create_dataset(f, name, data)
            ds.attrs["sha256"] = fmt.array_sha256(data)
        f["partition"].attrs.update({"method": card.coarse.method, "num_parts": parts})
        chunks = (min(fmt.NODE_CHUNK, n), min(fmt.FRAME_CHUNK, frames))
        field = f.create_dataset(
            "field",
            shape=(n, frames),
            dtype=np.float32,
            chunks=chunks,
            compression=fmt.COMPRESSION,
            compression_opts=fmt.COMPRESSION_LEVEL,
            shuffle=True,
            fletcher32=True,
            track_times=False,
        )
        field.attrs["block_frames"] = chunks[1]
        field.attrs["meaning"] = "unwrapped phase θ" if card.system == "kuramoto" else "activity u"
        channels = COARSE_CHANNELS[card.system]
        obs = {"observables/coarse": (parts, frames, channels)}
        if card.system == "kuramoto":
            obs.update(
                {
                    "observables/community_order": (parts, frames),
                    "observables/community_phase": (parts, frames),
                    "observables/order_parameter": (frames,),
                }
            )
        else:
            obs["observables/mean_activity"] = (frames,)
        for name, shape in obs.items():
            f.create_dataset(name, shape=shape, dtype=np.float32, track_times=False)


#: Frames per slice when computing observables (bounds the float64 temporaries to a few [N]).
OBSERVABLE_FRAMES = 4


def block_observables(
    block: np.ndarray, partition: torch.Tensor, parts: int, system: str
) -> dict[str, np.ndarray]:
    """Coarse and global observables of one field block ``[N, k]`` (computed in float64,
    ``OBSERVABLE_FRAMES`` frames at a time so the temporaries stay small at 1M+ nodes)."""

    pieces: dict[str, list[np.ndarray]] = {}
    for start in range(0, block.shape[1], OBSERVABLE_FRAMES):
        field = torch.from_numpy(block[:, start : start + OBSERVABLE_FRAMES]).to(torch.float64)
        coarse = coarse_observables(field, partition, parts, system)  # [m, k', C]
        out = {"observables/coarse": coarse.numpy().astype(np.float32)}
        if system == "kuramoto":
            out["observables/community_order"] = torch.linalg.vector_norm(coarse, dim=-1).numpy()
            phase = torch.atan2(coarse[..., 1], coarse[..., 0])
            out["observables/community_phase"] = phase.numpy()
            out["observables/order_parameter"] = order_parameter(field).numpy()
        else:
            out["observables/mean_activity"] = field.mean(0).numpy()
        for name, values in out.items():
            pieces.setdefault(name, []).append(values)
    return {
        name: np.concatenate(values, axis=1 if values[0].ndim > 1 else 0)
        for name, values in pieces.items()
    }


def check_partial_matches(partial: Path, arrays: dict[str, np.ndarray]) -> None:
    """The regenerated graph/split/partition must equal the partial file's (same code, same card)."""
    try:
        with h5py.File(partial, "r") as f:
            for name, data in arrays.items():
                if f[name].attrs["sha256"] != fmt.array_sha256(data):
                    raise StoreError(
                        f"{partial}: {name} differs from the regenerated one (the graph code "
                        "changed since the run started); start over with --force"
                    )
    except (OSError, KeyError) as err:
        raise StoreError(
            f"{partial}: cannot resume from it ({err}); start over with --force"
        ) from None


def finish_store(partial: Path, resolved: dict, system: str) -> None:
    """Checksum the observables and the field, write the data checksum and mark complete."""
    with h5py.File(partial, "r+") as f:
        field = f["field"]
        digests = [d.decode() for d in f["checksums/field_blocks"][()].tolist()]
        field.attrs["sha256"] = fmt.field_sha256(field.dtype, field.shape, digests)
        for name in fmt.OBSERVABLE_ARRAYS[system]:
            f[name].attrs["sha256"] = fmt.array_sha256(f[name][()])
        checksums = {name: str(f[name].attrs["sha256"]) for name in fmt.required_arrays(system)}
        f.attrs["data_checksum"] = fmt.data_checksum(resolved, checksums)
        f.attrs["complete"] = True


#: Normalization statistics read the training nodes of every ``k``-th block of ``NODE_CHUNK``
#: consecutive node ids, ``k = ceil(N / (NODE_CHUNK · NORMALIZATION_BLOCKS))``: all of them up
#: to 32k nodes, a fixed, chunk-aligned sample of ≈32k beyond (cheap to read at 3M nodes).
NORMALIZATION_BLOCKS = 512
#: Increments above this quantile of ``|Δx|`` are clipped before the RMS (robust to bursts).
INCREMENT_CLIP_QUANTILE = 0.99
SCALE_FLOOR = 1e-8


def clipped_rms(values: np.ndarray) -> float:
    """``sqrt(mean min(|v|, c)²)`` with ``c = quantile_{0.99} |v|``, floored at ``SCALE_FLOOR``."""
    magnitude = np.abs(values)
    clip = np.quantile(magnitude, INCREMENT_CLIP_QUANTILE)
    return float(max(np.sqrt(np.mean(np.minimum(magnitude, clip) ** 2)), SCALE_FLOOR))


def normalization_statistics(
    train_rows: np.ndarray, system: str, lookback: int
) -> dict[str, np.ndarray]:
    """The stored normalization of a task from its training field ``[n_train, a]``.

    ``Δx_{i,k} = x_{i,k} − x_{i,k−1}`` over the training nodes and training frames;
    ``increment_scale = clipped_rms(Δx)`` (:func:`clipped_rms`: RMS after clipping at the
    0.99-quantile of ``|Δx|``, floored at 1e-8). ``difference_scales`` ``[p]``:
    ``σ_j = clipped_rms(∇^j x)`` of the order-``j`` backward differences
    (``∇^j x_k = ∇^{j−1} x_k − ∇^{j−1} x_{k−1}``) for ``j = 1 … p``,
    ``p = difference_orders(κ) = min(4, κ−1)`` (``σ_1`` equals
    ``increment_scale``). Social only: ``level_scale = sqrt(mean u²)`` over the same rows and
    frames. Returns float64 arrays keyed by their path in the store.
    """
    rows = np.asarray(train_rows, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] < 2:
        raise StoreError(
            f"normalization needs ≥ 1 training node and ≥ 2 training frames, got {rows.shape}"
        )
    if lookback < 1 or rows.shape[1] <= lookback:
        raise StoreError(
            f"normalization needs more training frames ({rows.shape[1]}) than the lookback "
            f"({lookback})"
        )
    differences, orders = rows, []
    for _ in range(difference_orders(lookback)):
        differences = np.diff(differences, axis=1)
        orders.append(clipped_rms(differences))
    out = {
        "normalization/increment_scale": np.float64(clipped_rms(np.diff(rows, axis=1))),
        "normalization/difference_scales": np.asarray(orders, dtype=np.float64),
    }
    if system == "social":
        level = np.sqrt(np.mean(rows**2))
        out["normalization/level_scale"] = np.float64(max(level, SCALE_FLOOR))
    return {name: np.asarray(value, dtype=np.float64) for name, value in out.items()}


def normalization_nodes(train_ids: np.ndarray, num_nodes: int) -> np.ndarray:
    """The sorted training node ids the normalization reads (see ``NORMALIZATION_BLOCKS``)."""
    stride = max(1, -(-num_nodes // (fmt.NODE_CHUNK * NORMALIZATION_BLOCKS)))
    block = np.asarray(train_ids, dtype=np.int64) // fmt.NODE_CHUNK
    return np.sort(train_ids[block % stride == 0])


def write_normalization(partial: Path, card: TaskCard) -> dict[str, np.ndarray]:
    """Compute :func:`normalization_statistics` from the written field; store and checksum it."""
    with h5py.File(partial, "r+") as f:
        ids = normalization_nodes(f["split/train"][()], int(f.attrs["num_nodes"]))
        stop = card.frame_ranges["train"][1]
        field = f["field"]
        rows = np.empty((ids.size, stop), dtype=np.float32)
        blocks = ids // fmt.NODE_CHUNK
        for b in np.unique(blocks):  # one contiguous slab per sampled chunk row
            lo = int(b) * fmt.NODE_CHUNK
            slab = field[lo : lo + fmt.NODE_CHUNK, :stop]
            mask = blocks == b
            rows[mask] = slab[ids[mask] - lo]
        stats = normalization_statistics(rows, card.system, card.window.lookback)
        for name, value in stats.items():
            if name in f:  # resumed after a crash between this step and the end
                del f[name]
            ds = f.create_dataset(name, data=value, track_times=False)
            ds.attrs["sha256"] = fmt.array_sha256(value)
        return stats
