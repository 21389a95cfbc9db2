"""The HDF5 task-store format (version 2): layout, checksums and the error every reader raises.

Layout of ``<task>.h5`` (``N`` nodes, ``T`` frames, ``E`` directed edges, ``m`` coarse parts,
``C`` coarse channels); every dataset carries an ``sha256`` attribute::

    /                       attrs: format_version, task, version, system, card (JSON),
                                   versions (JSON), num_nodes, num_frames, dt, save_every,
                                   frame_dt, data_checksum, complete
    /field                  [N, T] float32   the fine field (Kuramoto θ unwrapped; social u)
    /time                   [T]    float64   physical time of each frame, k·frame_dt
    /graph/src, /graph/dst  [E]    int64     directed edges (both directions of each link)
    /graph/radius, /angle   [N]    float32   hyperbolic coordinates
    /graph/community        [N]    int64     community labels (PLM)
    /partition              [N]    int64     coarse partition of the effective task (attrs: method, num_parts)
    /split/train|val|test   [*]    int64     sorted node ids of each node split
    /windows/val|test       [W]    int64     t0 (last history frame) of each scored window
                                             (rule: :func:`roma_bench.data.windows.window_starts`)
    /normalization/increment_scale [] float64 robust scale s of one-frame increments (training
                                             nodes and frames; see :mod:`.writing`)
    /normalization/difference_scales [p] float64 robust scale σ_j of the order-j backward
                                             difference ∇^j x at a frame, j = 1…p, p = min(4, κ−1)
                                             (same nodes and frames; σ_1 = s)
    /normalization/level_scale     [] float64 social only: RMS of u (same nodes and frames)
    /observables/coarse     [m, T, C] float32 coarse observables of the whole graph
    /observables/...        Kuramoto: community_order R_c, community_phase ψ_c [m, T],
                            order_parameter R(t) [T]; social: mean_activity [T]
    /checksums/field_blocks [B] bytes  sha256 of each block of ``block_frames`` frames of /field

Checksums: an array's ``sha256`` is the SHA-256 of the header ``"<dtype.str><shape>"``
followed by its raw C-order bytes. ``/field`` is hashed block by block (frames
``[b·F, (b+1)·F)``, ``F = field.attrs['block_frames']``, bytes of ``field[:, block]``);
its ``sha256`` is the SHA-256 of the header and the concatenated hex block digests. The
``data_checksum`` (the one string a leaderboard cites) is the SHA-256 of the JSON of
``{"card": resolved card, "arrays": {path: sha256}}`` with sorted keys.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from roma_bench.versions import installed_versions

FORMAT_VERSION = 2

#: Field chunks: ``NODE_CHUNK`` consecutive nodes × ``FRAME_CHUNK`` consecutive frames.
#: Small chunks keep a random 512-node × ~40-frame read cheap (see benchmarks/loader.py).
NODE_CHUNK = 64
FRAME_CHUNK = 32
COMPRESSION = "gzip"
COMPRESSION_LEVEL = 1

STATIC_ARRAYS = (
    "time",
    "graph/src",
    "graph/dst",
    "graph/radius",
    "graph/angle",
    "graph/community",
    "partition",
    "split/train",
    "split/val",
    "split/test",
    "windows/val",
    "windows/test",
)
OBSERVABLE_ARRAYS = {
    "kuramoto": (
        "observables/coarse",
        "observables/community_order",
        "observables/community_phase",
        "observables/order_parameter",
    ),
    "social": ("observables/coarse", "observables/mean_activity"),
}
NORMALIZATION_ARRAYS = {
    "kuramoto": ("normalization/increment_scale", "normalization/difference_scales"),
    "social": (
        "normalization/increment_scale",
        "normalization/difference_scales",
        "normalization/level_scale",
    ),
}
VERSIONED_PACKAGES = ("roma-bench", "numpy", "torch", "dgl", "networkit", "h5py", "scipy")


class StoreError(RuntimeError):
    """A task store is missing, truncated, corrupted or of another format; the message says which."""


def required_arrays(system: str) -> tuple[str, ...]:
    """Every dataset path a complete store of ``system`` must hold (``field`` first)."""
    return ("field", *STATIC_ARRAYS, *OBSERVABLE_ARRAYS[system], *NORMALIZATION_ARRAYS[system])


def _header(dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    return f"{np.dtype(dtype).str}{tuple(int(s) for s in shape)}".encode()


def array_sha256(array: np.ndarray) -> str:
    """SHA-256 hex digest of ``array``: header ``"<dtype.str><shape>"`` + raw C-order bytes."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(_header(array.dtype, array.shape))
    flat = array.reshape(-1).view(np.uint8)
    step = 1 << 26  # hash 64 MiB at a time
    for start in range(0, flat.size, step):
        digest.update(flat[start : start + step])
    return digest.hexdigest()


def block_sha256(block: np.ndarray) -> str:
    """SHA-256 hex digest of the raw C-order bytes of one field block ``[N, frames]``."""
    return hashlib.sha256(np.ascontiguousarray(block).view(np.uint8)).hexdigest()


def field_sha256(dtype: np.dtype, shape: tuple[int, ...], block_digests: list[str]) -> str:
    """SHA-256 of the field: header + the concatenated hex digests of its frame blocks."""
    digest = hashlib.sha256(_header(dtype, shape))
    for block in block_digests:
        digest.update(block.encode())
    return digest.hexdigest()


def data_checksum(card: dict[str, Any], arrays: dict[str, str]) -> str:
    """The store's one checksum: SHA-256 of the JSON of the resolved card and every array digest."""
    payload = json.dumps({"card": card, "arrays": arrays}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def card_sha256(card: dict[str, Any]) -> str:
    """SHA-256 of the resolved card's canonical JSON (ties a checkpoint to its card)."""
    return hashlib.sha256(json.dumps(card, sort_keys=True).encode()).hexdigest()


def package_versions() -> dict[str, str | None]:
    """Versions of the packages that shape the generated data (stored with it)."""
    import platform

    return {"python": platform.python_version(), **installed_versions(VERSIONED_PACKAGES)}
