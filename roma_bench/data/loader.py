"""Stream :class:`~roma_bench.data.batch.Batch` windows from a task store.

Windows (frame indices; ``t0`` is the last history frame, κ lookback, H horizon, R rollout):

- ``history`` = frames ``t0-κ+1 … t0``, ``target`` = ``t0+1 … t0+H``, ``future`` = ``t0+1 … t0+R``.
- **train**: an infinite stream. Each batch is a random-walk subgraph of about
  ``card.batch.nodes`` nodes drawn from the training nodes only, and a uniformly random
  ``t0`` with the whole window inside the train frame range: ``κ-1 ≤ t0 ≤ a-1-H``. History
  and target get independent draws of the system's noise (:func:`roma_bench.data.noise.
  observation_noise`: additive on phases, log-normal on activity; σ = the card's ``noise``
  unless overridden); ``coarse_target`` is computed from the noised target, so the coarse
  targets carry the same observation noise as the fine ones. Batch ``k`` of stream ``seed``
  is drawn from ``step_seed(seed, k)`` (:mod:`roma_bench.data.windows`), the one seeding
  path shared with :class:`~roma_bench.data.datasets.TrainWindows` and the harness.
- **val** / **test**: a fixed, finite list. Every batch is the whole held-out val (test)
  subgraph, at the ``t0`` stored in the file (``/windows/val``, ``/windows/test``):
  ``card.window.eval_windows`` evenly spaced starts whose target and future frames lie in
  the split's range ``[a, b)``, rule in :mod:`roma_bench.data.windows`.
  Everything is clean, and ``future`` ``[n, R]`` is set.

Only the rows and frames a batch needs are read from HDF5; the fixed evaluation
subgraph, its encodings and its frames are read once and cached. Every subgraph's
encodings go through the store's on-disk :class:`~roma_bench.data.encoding_cache.
EncodingCache`, so the runs of a board (one stream per seed) compute each only once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from roma_bench.data.batch import Batch
from roma_bench.data.encoding_cache import EncodingCache
from roma_bench.data.noise import observation_noise
from roma_bench.data.store import TaskStore
from roma_bench.data.windows import Split, step_seed, window_starts
from roma_bench.dynamics.observables import coarse_observables
from roma_bench.graphs import (
    RandomWalkSampler,
    induced_subgraph,
    nested_region,
    positional_encodings,
)
from roma_bench.graphs.backend import NID

__all__ = ["Split", "WindowLoader", "window_starts"]


class WindowLoader:
    """Batches of ``split`` from ``store`` (see the module docstring for the windows).

    ``seed`` fixes the training stream (subgraphs, window starts, noise). ``noise`` overrides
    the card's σ for training batches (``None``: use the card's). ``train_nodes`` < 1 draws
    the training subgraphs from that fraction of the training nodes only: a connected
    region, nested across fractions (:func:`roma_bench.graphs.sampler.nested_region`, seeded
    by the card's split seed), for data scaling. Iterate it; ``len()`` is
    defined for ``val``/``test`` only.
    """

    def __init__(
        self,
        store: TaskStore,
        split: Split,
        seed: int = 0,
        noise: float | None = None,
        train_nodes: float = 1.0,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split {split!r}; expected 'train', 'val' or 'test'")
        self.store, self.split = store, split
        self.card = store.card
        self.noise = self.card.noise if noise is None else float(noise)
        if self.noise < 0:
            raise ValueError(f"noise σ must be ≥ 0, got {self.noise}")
        self.seed = seed
        # val/test: the windows stored in the file (the scored ones); train: the card's rule
        self.starts = window_starts(self.card, split) if split == "train" else store.windows(split)
        self._eval_batches: list[Batch] | None = None
        self.encoding_cache = EncodingCache.for_store(store)
        self._generator = torch.Generator()
        self._noise_generator = torch.Generator()
        self._reseed(seed)
        self._sampler = None
        if not 0 < train_nodes <= 1:
            raise ValueError(f"train_nodes {train_nodes!r}: expected a fraction in (0, 1]")
        if split != "train" and train_nodes != 1:
            raise ValueError(f"train_nodes is for the train split, not {split!r}")
        if split == "train":
            allowed = store.split.train
            if train_nodes < 1:
                allowed = nested_region(store.graph, allowed, train_nodes, self.card.split.seed)
            self._sampler = RandomWalkSampler(
                store.graph,
                self.card.batch.nodes,
                walk_length=self.card.batch.walk_length,
                allowed=allowed,
                # Fixed: it only seeds the sampler's pilot walks (our generator drives every
                # sample), so a batch depends on the stream's seed alone, not the loader's.
                seed=0,
            )

    def _reseed(self, seed: int) -> None:
        """Seed the two streams. They are separate so that the subgraphs and window starts
        do not depend on the noise level."""
        sample_seed, noise_seed = np.random.SeedSequence(seed).generate_state(2)
        self._generator.manual_seed(int(sample_seed))
        self._noise_generator.manual_seed(int(noise_seed))

    # ------------------------------------------------------------------ pieces
    def _make_batch(
        self,
        subgraph,
        node_ids,
        window: np.ndarray,
        t0: int,
        noisy: bool,
        encodings: torch.Tensor | None = None,
        assignment=None,
    ) -> Batch:
        """A Batch from ``window`` ``[n, κ+R']`` (frames ``t0-κ+1 …``) of the subgraph's nodes."""

        lookback, horizon = self.card.window.lookback, self.card.window.horizon
        window = torch.from_numpy(window)
        history = window[:, :lookback]
        target = window[:, lookback : lookback + horizon]
        if encodings is None:
            encodings = self._encodings(subgraph)
        if assignment is None:
            assignment = self._assignment(node_ids)
        parts, labels = assignment
        future = None
        if not noisy:
            history, target = history.clone(), target.clone()
            future = window[:, lookback:].clone()
        elif self.noise > 0:
            system, draws = self.card.system, self._noise_generator  # independent draws
            history = observation_noise(history, self.noise, system, draws)
            target = observation_noise(target, self.noise, system, draws)
        # from the (noised) fine target: coarse targets are observed like the fine ones
        coarse = coarse_observables(target.double(), labels, parts, self.card.system).float()
        src, dst = subgraph.edges()
        batch = Batch(
            graph=subgraph,
            node_ids=node_ids,
            history=history.contiguous(),
            target=target.contiguous(),
            t0=float(self.store.times[t0]),
            frame_dt=self.store.frame_dt,
            encodings=encodings,
            coords=self.store.coords[node_ids],
            coarse_assignment=labels,
            coarse_target=coarse.contiguous(),
            system=self.card.system,
            encoding_sizes=(self.card.encodings.laplacian, self.card.encodings.random_walk),
            future=future,
            edge_index=torch.stack([src, dst]).to(torch.int64),
        )
        batch.validate()
        return batch

    def _encodings(self, subgraph) -> torch.Tensor:
        """The subgraph's encodings ``[n, L + R]``, through the store's on-disk cache."""
        enc = self.card.encodings

        def compute() -> torch.Tensor:
            return positional_encodings(
                subgraph, enc.laplacian, enc.random_walk, enc.laplacian_scope
            ).float()

        return self.encoding_cache.get(subgraph, compute)

    def _assignment(self, node_ids: torch.Tensor) -> tuple[int, torch.Tensor]:
        """Coarse parts of ``node_ids``, relabelled ``0 … m-1`` within the batch."""
        parts, labels = torch.unique(self.store.partition[node_ids], return_inverse=True)
        return int(parts.numel()), labels

    # ------------------------------------------------------------------ train
    def sample(self, seed: int | None = None) -> Batch:
        """One random training batch; with ``seed`` the streams are reseeded first, so a
        trainer can tie step k's batch to a seed (the batch is then a function of the store,
        the split, the noise level and ``seed`` alone)."""
        if self._sampler is None:
            raise TypeError(f"sample() is for the train split; iterate the {self.split} batches")
        if seed is not None:
            self._reseed(seed)
        subgraph = self._sampler.sample(generator=self._generator)
        node_ids = subgraph.ndata[NID].to(torch.int64)
        index = torch.randint(len(self.starts), (1,), generator=self._generator).item()
        t0 = int(self.starts[index])
        lookback, horizon = self.card.window.lookback, self.card.window.horizon
        window = self.store.read_field(node_ids.numpy(), t0 - lookback + 1, t0 + horizon + 1)
        return self._make_batch(subgraph, node_ids, window, t0, noisy=True)

    # ------------------------------------------------------------------ val / test
    def batches(self) -> list[Batch]:
        """The fixed evaluation batches of ``val``/``test`` (built once, then cached)."""
        if self.split == "train":
            raise TypeError("the train split is an infinite stream; use sample() or iterate it")
        if self._eval_batches is None:
            self._eval_batches = self._build_eval_batches()
        return self._eval_batches

    def _build_eval_batches(self) -> list[Batch]:
        nodes = getattr(self.store.split, self.split)
        subgraph = induced_subgraph(self.store.graph, nodes)
        node_ids = subgraph.ndata[NID].to(torch.int64) if NID in subgraph.ndata else nodes
        encodings = self._encodings(subgraph)
        assignment = self._assignment(node_ids)
        lookback, rollout = self.card.window.lookback, self.card.window.rollout
        first, last = int(self.starts[0]) - lookback + 1, int(self.starts[-1]) + rollout + 1
        frames = self.store.read_field(node_ids.numpy(), first, last)  # one read for all windows
        batches = []
        for t0 in self.starts.tolist():
            offset = t0 - lookback + 1 - first
            window = np.ascontiguousarray(frames[:, offset : offset + lookback + rollout])
            batches.append(
                self._make_batch(subgraph, node_ids, window, t0, False, encodings, assignment)
            )
        return batches

    # ------------------------------------------------------------------ protocol
    def __iter__(self) -> Iterator[Batch]:
        if self.split == "train":
            return self._stream()
        return iter(self.batches())

    def _stream(self) -> Iterator[Batch]:
        """Batches ``0, 1, 2, …`` of stream ``seed``: the items of ``TrainWindows(seed=seed)``."""

        step = 0
        while True:
            yield self.sample(seed=step_seed(self.seed, step))
            step += 1

    def __len__(self) -> int:
        if self.split == "train":
            raise TypeError("the train split is an infinite stream and has no length")
        return len(self.starts)

    def __repr__(self) -> str:
        return (
            f"WindowLoader(task={self.card.name!r}, split={self.split!r}, "
            f"windows={len(self.starts)}, noise={self.noise})"
        )
