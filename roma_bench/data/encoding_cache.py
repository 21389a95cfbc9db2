"""An on-disk cache of subgraph positional encodings, shared by every run on one store.

A training batch's subgraph is a function of ``(seed, k)`` alone, so the runs of a board
(every model, one seed) draw the same subgraphs, and their positional encodings (a dense
Laplacian eigendecomposition: two thirds of building a km-tiny batch) are the same. The
first run computes each one and stores it; the later runs read it (~0.1 ms instead of
~20 ms), so a DataLoader worker keeps ahead of a cheap model step.

Layout: ``<store>.encodings/<2 hex>/<38 hex>.npy``, one float32 ``[n, L + R]`` array per
subgraph. The name is a BLAKE2b digest of everything the encodings depend on: the store's
data checksum, the card's encoding settings, the subgraph's node ids and edges, the source
of :mod:`roma_bench.graphs.encodings` and the numpy, scipy and torch versions (LAPACK's
basis of a degenerate eigenspace may change with them). A cached array is therefore bit-identical
to the one it replaces; an edit of the encoding code starts a fresh set of names.

Files are written to a temporary name and renamed, so concurrent runs and workers never
read half a file; an unreadable or mis-shaped file is recomputed and rewritten. Writing
stops (reading goes on) once the folder holds :data:`DEFAULT_LIMIT_MB` (or
``$ROMA_BENCH_ENCODING_CACHE_MB``); ``ROMA_BENCH_ENCODING_CACHE=off`` turns the cache off,
a path moves it. A read-only data folder just means no cache.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy
import torch

from roma_bench.graphs import encodings as encodings_module
from roma_bench.graphs.backend import NID
from roma_bench.versions import installed_versions

__all__ = ["CACHE_ENV", "DEFAULT_LIMIT_MB", "LIMIT_ENV", "EncodingCache"]

#: ``off`` disables the cache; any other value is the folder to use for this store.
CACHE_ENV = "ROMA_BENCH_ENCODING_CACHE"
#: Stop writing new entries once the folder holds this many MiB.
LIMIT_ENV = "ROMA_BENCH_ENCODING_CACHE_MB"
DEFAULT_LIMIT_MB = 2048
#: Bump when the file layout changes (the encoding code is keyed by its source already).
FORMAT = b"roma-bench encoding cache 1"


@lru_cache(maxsize=1)
def _code_key() -> bytes:
    """What the encodings' values depend on besides the graph and the settings."""
    try:
        source = inspect.getsource(encodings_module).encode()
    except (OSError, TypeError):  # no source shipped: the package version stands in for it
        source = repr(installed_versions(["roma-bench"])).encode()
    versions = f"numpy {np.__version__} scipy {scipy.__version__} torch {torch.__version__}"
    versions = versions.encode()
    return hashlib.blake2b(FORMAT + source + versions, digest_size=16).digest()


def _folder_bytes(root: Path) -> int:
    """Bytes of the ``.npy`` files under ``root`` (0 when it does not exist)."""
    if not root.is_dir():
        return 0
    return sum(f.stat().st_size for f in root.glob("*/*.npy"))


class EncodingCache:
    """Encodings of a store's subgraphs, on disk (see the module docstring).

    ``settings`` is everything of the card the encodings depend on (for example
    ``(laplacian, random_walk, scope)``); ``root`` ``None`` takes ``$ROMA_BENCH_ENCODING_CACHE``
    or ``<store path>.encodings``. ``get(subgraph, compute)`` returns the cached
    ``[n, d]`` float32 tensor of ``subgraph`` or calls ``compute()`` and stores its result.
    Picklable (a DataLoader worker gets a copy and writes to the same folder).
    """

    def __init__(
        self, store_path: Path, checksum: str, settings: tuple, root: Path | None = None
    ) -> None:
        configured = os.environ.get(CACHE_ENV, "")
        self.enabled = configured.lower() not in ("off", "0", "false", "no")
        if root is None:
            root = Path(configured) if self.enabled and configured else None
        self.root = Path(f"{store_path}.encodings") if root is None else Path(root)
        self.limit = int(float(os.environ.get(LIMIT_ENV, DEFAULT_LIMIT_MB)) * 2**20)
        self._prefix = _code_key() + f"{checksum}|{settings!r}".encode()
        self._written: int | None = None  # bytes in the folder, counted on the first write
        self.hits = self.misses = 0

    @classmethod
    def for_store(cls, store, root: Path | None = None) -> EncodingCache:
        """The cache of a :class:`~roma_bench.data.store.TaskStore`'s subgraphs under its
        card's encoding settings."""
        enc = store.card.encodings
        settings = (enc.laplacian, enc.random_walk, enc.laplacian_scope)
        return cls(store.path, store.checksum, settings, root)

    def key(self, subgraph) -> str:
        """The file stem of ``subgraph``: a digest of the prefix, its node ids and edges."""
        digest = hashlib.blake2b(self._prefix, digest_size=20)
        digest.update(subgraph.ndata[NID].to(torch.int64).numpy().tobytes())
        for part in subgraph.edges():
            digest.update(part.to(torch.int64).numpy().tobytes())
        return digest.hexdigest()

    def path(self, subgraph) -> Path:
        stem = self.key(subgraph)
        return self.root / stem[:2] / f"{stem[2:]}.npy"

    def get(self, subgraph, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The encodings ``[n, d]`` of ``subgraph``: read from disk, or computed and stored."""
        if not self.enabled or NID not in subgraph.ndata:
            return compute()
        path = self.path(subgraph)
        cached = self._read(path, subgraph.num_nodes())
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        value = compute()
        self._write(path, value)
        return value

    @staticmethod
    def _read(path: Path, nodes: int) -> torch.Tensor | None:
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # missing, truncated or not an array: recompute
        if array.dtype != np.float32 or array.ndim != 2 or array.shape[0] != nodes:
            return None
        return torch.from_numpy(array)

    def _write(self, path: Path, value: torch.Tensor) -> None:
        array = value.detach().cpu().numpy()
        if array.dtype != np.float32:
            return  # the loader's encodings are float32; anything else is not ours to keep
        temporary = None
        try:
            if self._written is None:
                self._written = _folder_bytes(self.root)
            if self._written + array.nbytes > self.limit:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
                temporary = Path(f.name)
                np.save(f, array, allow_pickle=False)
            os.replace(temporary, path)  # atomic: readers see the whole file or none
            self._written += path.stat().st_size
        except OSError:
            self.enabled = False  # a read-only or full disk: carry on without the cache
            if temporary is not None:
                temporary.unlink(missing_ok=True)
