"""Read and verify task stores (HDF5, format in :mod:`roma_bench.data.format`).

Generation is :func:`roma_bench.data.generation.generate_task`.

>>> from roma_bench.data.generation import generate_task
>>> from roma_bench.data.store import TaskStore, verify_store
>>> path = generate_task(load_card("km-tiny"))            # doctest: +SKIP
>>> verify_store(path)                                     # raises StoreError if damaged
>>> with TaskStore(path) as store:                         # doctest: +SKIP
...     window = store.read_field(store.split.val, 100, 120)   # [n_val, 20] float32

Opening a store runs cheap structural checks (format version, completeness, every
required array with the right shape, the data checksum against the per-array
checksums); the static arrays (graph, split, partition) are checked against their
SHA-256 when first loaded, and every field chunk carries a Fletcher-32 checksum that
HDF5 checks on read. :func:`verify_store` recomputes every checksum.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np
import torch

from roma_bench.cards import TaskCard
from roma_bench.config import ConfigError, validate
from roma_bench.data import format as fmt
from roma_bench.data.format import StoreError
from roma_bench.graphs import NodeSplit
from roma_bench.graphs.backend import make_graph

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph

__all__ = ["StoreError", "TaskStore", "verify_store"]

_DAMAGED = "the file is damaged or truncated; regenerate it with `roma-bench generate --force`"
#: Default of ``TaskStore(memory_bytes=…)``: fields up to this size are held in memory.
FIELD_IN_MEMORY_BYTES = 128 << 20


class TaskStore:
    """A generated task opened read-only.

    Attributes: ``card`` (:class:`TaskCard`), ``version``, ``num_nodes`` N, ``num_frames`` T,
    ``frame_dt``, ``checksum`` (the data checksum), ``graph`` (DGLGraph with ndata
    ``radius``, ``angle``, ``community``), ``split`` (NodeSplit of sorted id tensors),
    ``partition`` (``[N]`` int64), ``num_parts``, ``coords`` (``[N, 2]`` radius, angle).

    ``cache_bytes`` sizes HDF5's chunk cache (decompressed field chunks reused across reads).
    ``memory_bytes``: a complete store whose field is at most this large is read whole into
    memory on the first :meth:`read_field` (km-tiny: 3 MB), and every read is then a numpy
    index (≈ 10 µs instead of ≈ 2 ms through HDF5's selections); 0 never does.
    """

    def __init__(
        self,
        path: str | Path,
        cache_bytes: int = 256 << 20,
        *,
        allow_partial: bool = False,
        memory_bytes: int = FIELD_IN_MEMORY_BYTES,
    ) -> None:
        self.path = Path(path)
        self._allow_partial = allow_partial
        self._cache_bytes = cache_bytes
        self._memory_bytes = memory_bytes
        self._field: np.ndarray | None = None  # the whole field, once read (memory_bytes)
        self._field_tried = False
        if not self.path.is_file():
            raise StoreError(
                f"{self.path}: no such task store (generate it with `roma-bench generate`)"
            )
        try:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=cache_bytes, rdcc_nslots=100_003)
        except OSError as err:
            raise StoreError(f"{self.path}: cannot be opened as HDF5 ({err}); {_DAMAGED}") from None
        try:
            self._check_structure()
        except StoreError:
            self.close()
            raise
        except (OSError, KeyError, ValueError) as err:
            self.close()
            raise StoreError(f"{self.path}: unreadable metadata ({err}); {_DAMAGED}") from None

    # ------------------------------------------------------------------ structure
    def _check_structure(self) -> None:
        f, where = self._file, str(self.path)
        version = f.attrs.get("format_version")
        if version is None:
            raise StoreError(f"{where}: not a roma-bench task store (no format_version attribute)")
        if int(version) != fmt.FORMAT_VERSION:
            task = f.attrs.get("task", "TASK")
            raise StoreError(
                f"{where}: this roma-bench reads task-store format {fmt.FORMAT_VERSION}, the file "
                f"is format {int(version)}; regenerate with `roma-bench generate {task} --force`"
            )
        if not bool(f.attrs.get("complete", False)) and not self._allow_partial:
            raise StoreError(f"{where}: generation did not finish; resume it with --resume")
        try:
            self.card: TaskCard = validate(TaskCard, json.loads(f.attrs["card"]), f"{where}: card")
        except ConfigError as err:
            raise StoreError(f"{where}: the stored card is invalid: {err}") from None
        self.num_nodes = int(f.attrs["num_nodes"])
        self.num_frames = int(f.attrs["num_frames"])
        missing = [name for name in fmt.required_arrays(self.card.system) if name not in f]
        if missing:
            raise StoreError(f"{where}: missing arrays {', '.join(missing)}; {_DAMAGED}")
        n, frames = self.num_nodes, self.num_frames
        shapes: dict[str, tuple[int, ...]] = {
            "field": (n, frames),
            "time": (frames,),
            "graph/radius": (n,),
            "graph/angle": (n,),
            "graph/community": (n,),
            "partition": (n,),
        }
        for name, shape in shapes.items():
            if f[name].shape != shape:
                raise StoreError(f"{where}: {name} has shape {f[name].shape}, expected {shape}")
        if f["graph/src"].shape != f["graph/dst"].shape:
            raise StoreError(f"{where}: graph/src and graph/dst differ in length")
        split_sizes = sum(f[f"split/{s}"].shape[0] for s in ("train", "val", "test"))
        if split_sizes != n:
            raise StoreError(f"{where}: the node split covers {split_sizes} of {n} nodes")
        blocks = -(-frames // int(f["field"].attrs["block_frames"]))
        if f["checksums/field_blocks"].shape != (blocks,):
            raise StoreError(f"{where}: checksums/field_blocks has the wrong length")
        recorded = self.array_checksums()
        if fmt.data_checksum(self.card.resolved(), recorded) != f.attrs["data_checksum"]:
            raise StoreError(
                f"{where}: the data checksum does not match the array checksums; {_DAMAGED}"
            )

    def array_checksums(self) -> dict[str, str]:
        """``{array path: recorded sha256}`` of every required array."""
        out = {}
        for name in fmt.required_arrays(self.card.system):
            digest = self._file[name].attrs.get("sha256")
            if digest is None:
                raise StoreError(f"{self.path}: {name} has no sha256 attribute; {_DAMAGED}")
            out[name] = str(digest)
        return out

    # ------------------------------------------------------------------ small arrays
    def load_array(self, name: str, check: bool = True) -> np.ndarray:
        """The whole (small) array ``name``, checked against its recorded SHA-256."""
        try:
            data = self._file[name][()]
        except (OSError, KeyError) as err:
            raise StoreError(f"{self.path}: cannot read {name} ({err}); {_DAMAGED}") from None
        if check and fmt.array_sha256(data) != self._file[name].attrs.get("sha256"):
            raise StoreError(f"{self.path}: {name} does not match its checksum; {_DAMAGED}")
        return data

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def system(self) -> str:
        return self.card.system

    @property
    def frame_dt(self) -> float:
        return float(self._file.attrs["frame_dt"])

    @property
    def checksum(self) -> str:
        """The data checksum a leaderboard cites (card + every array's SHA-256)."""
        return str(self._file.attrs["data_checksum"])

    @property
    def package_versions(self) -> dict[str, Any]:
        return json.loads(self._file.attrs["versions"])

    @cached_property
    def times(self) -> np.ndarray:
        """``[T]`` float64 physical time of each frame."""
        return self.load_array("time")

    @cached_property
    def partition(self) -> torch.Tensor:
        """``[N]`` int64 coarse part of each node (contiguous labels ``0 … num_parts-1``)."""
        return torch.from_numpy(self.load_array("partition"))

    @property
    def num_parts(self) -> int:
        return int(self._file["partition"].attrs["num_parts"])

    @cached_property
    def coords(self) -> torch.Tensor:
        """``[N, 2]`` float32 hyperbolic (radius, angle) of each node."""
        radius = self.load_array("graph/radius")
        angle = self.load_array("graph/angle")
        return torch.from_numpy(np.stack([radius, angle], axis=1))

    @cached_property
    def split(self):
        """The node split: ``NodeSplit(train, val, test)`` of sorted int64 id tensors."""

        ids = {s: torch.from_numpy(self.load_array(f"split/{s}")) for s in ("train", "val", "test")}
        return NodeSplit(**ids)

    @cached_property
    def graph(self) -> Graph:
        """The whole task graph (bidirected) with ndata ``radius``, ``angle``, ``community``
        (a ``DGLGraph``, or an ``EdgeGraph`` where DGL cannot be imported)."""
        src = torch.from_numpy(self.load_array("graph/src"))
        dst = torch.from_numpy(self.load_array("graph/dst"))
        graph = make_graph(src, dst, num_nodes=self.num_nodes)
        graph.ndata["radius"] = self.coords[:, 0].contiguous()
        graph.ndata["angle"] = self.coords[:, 1].contiguous()
        graph.ndata["community"] = torch.from_numpy(self.load_array("graph/community"))
        return graph

    def windows(self, split: str) -> np.ndarray:
        """``[W]`` int64 stored ``t0`` of the scored windows of ``val`` or ``test``
        (rule: :func:`roma_bench.data.windows.window_starts`)."""
        if split not in ("val", "test"):
            raise ValueError(f"split {split!r}: stored windows exist for 'val' and 'test' only")
        return self.load_array(f"windows/{split}")

    @cached_property
    def normalization(self) -> dict[str, float | tuple[float, ...]]:
        """The stored training-split normalization: ``increment_scale``,
        ``difference_scales`` (a tuple, κ−1 values) and, social, ``level_scale``; see
        :func:`roma_bench.data.writing.normalization_statistics`."""
        stats: dict[str, float | tuple[float, ...]] = {}
        for name in fmt.NORMALIZATION_ARRAYS[self.card.system]:
            value = self.load_array(name)
            key = name.split("/")[-1]
            stats[key] = tuple(float(v) for v in value) if value.ndim else float(value)
        return stats

    def observable(self, name: str) -> np.ndarray:
        """A stored observable, e.g. ``'coarse'`` ``[m, T, C]`` or ``'order_parameter'`` ``[T]``."""
        return self.load_array(f"observables/{name}")

    # ------------------------------------------------------------------ field reads
    def read_field(self, nodes: np.ndarray | torch.Tensor, start: int, stop: int) -> np.ndarray:
        """``[len(nodes), stop-start]`` float32: the field of ``nodes`` (any order) at frames
        ``start … stop-1``. Reads only the chunks that hold those rows and frames."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if not 0 <= start < stop <= self.num_frames:
            raise ValueError(f"frames [{start}, {stop}) outside [0, {self.num_frames})")
        if nodes.size and (nodes.min() < 0 or nodes.max() >= self.num_nodes):
            raise ValueError(f"node ids outside [0, {self.num_nodes})")
        whole = self._whole_field()
        if whole is not None:
            return whole[nodes, start:stop]
        unique, inverse = np.unique(nodes, return_inverse=True)
        rows = np.empty((unique.size, stop - start), dtype=np.float32)
        field = self._file["field"]
        chunk_nodes = field.chunks[0]
        blocks = unique // chunk_nodes
        # Runs of nodes whose chunks are adjacent are read as one slab, then subsampled.
        breaks = np.flatnonzero(np.diff(blocks) > 1) + 1
        try:
            for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, unique.size]):
                first, last = unique[lo], unique[hi - 1] + 1
                slab = field[first:last, start:stop]
                rows[lo:hi] = slab[unique[lo:hi] - first]
        except OSError as err:
            raise StoreError(
                f"{self.path}: field chunk unreadable at frames [{start}, {stop}) ({err}); "
                f"{_DAMAGED}"
            ) from None
        return rows[inverse]

    def _whole_field(self) -> np.ndarray | None:
        """The field ``[N, T]`` in memory when the store is complete and the field is at most
        ``memory_bytes`` (read once); ``None`` otherwise, or when reading it whole fails (the
        chunked reads then name the damaged chunk)."""
        if not self._field_tried:
            self._field_tried = True
            field = self._file["field"]
            if not self._allow_partial and field.size * 4 <= self._memory_bytes:
                try:
                    self._field = np.asarray(field[...], dtype=np.float32)
                except OSError:
                    self._field = None
        return self._field

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None and file.id.valid:
            file.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle by path (for DataLoader workers / spawned ranks): the copy reopens the file."""
        return {"path": self.path, "cache_bytes": self._cache_bytes,
                "partial": self._allow_partial, "memory_bytes": self._memory_bytes}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["cache_bytes"], allow_partial=state["partial"],
                      memory_bytes=state.get("memory_bytes", FIELD_IN_MEMORY_BYTES))  # fmt: skip

    def __enter__(self) -> TaskStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"TaskStore({str(self.path)!r}, task={self.card.name!r}, version={self.version!r}, "
            f"nodes={self.num_nodes}, frames={self.num_frames})"
        )


def verify_store(path: str | Path, progress: bool = False, *, allow_partial: bool = False) -> None:
    """Recompute every checksum of the store at ``path``; raise :class:`StoreError` on any
    mismatch, truncation, unreadable chunk or missing array (the message names them).

    ``allow_partial`` accepts a store not yet marked complete (used before the final rename).
    """
    from tqdm.auto import tqdm

    with TaskStore(path, allow_partial=allow_partial) as store:
        f, problems = store._file, []
        recorded = store.array_checksums()
        for name in fmt.required_arrays(store.card.system)[1:]:
            try:
                if fmt.array_sha256(f[name][()]) != recorded[name]:
                    problems.append(f"{name}: checksum mismatch")
            except OSError as err:
                problems.append(f"{name}: unreadable ({err})")
        field = f["field"]
        block_frames = int(field.attrs["block_frames"])
        try:
            expected = [d.decode("ascii") for d in f["checksums/field_blocks"][()].tolist()]
        except (UnicodeDecodeError, OSError, ValueError, TypeError) as err:
            raise StoreError(
                f"{path}: verification failed: checksums/field_blocks is damaged "
                f"(unreadable block digests: {type(err).__name__}); {_DAMAGED}"
            ) from None
        bad_blocks = []
        for b in tqdm(range(len(expected)), desc="verify field", disable=not progress):
            start, stop = b * block_frames, min((b + 1) * block_frames, store.num_frames)
            try:
                digest = fmt.block_sha256(field[:, start:stop])
            except OSError:
                digest = None
            if digest != expected[b]:
                bad_blocks.append(f"[{start}, {stop})")
        if bad_blocks:
            problems.append(f"field: frames {', '.join(bad_blocks)} corrupted or unreadable")
        elif fmt.field_sha256(field.dtype, field.shape, expected) != recorded["field"]:
            problems.append("field: checksum mismatch (block digest list altered)")
    if problems:
        raise StoreError(f"{path}: verification failed: " + "; ".join(problems))
