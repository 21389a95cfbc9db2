"""Generate a task's HDF5 store from its card: resumable, checksummed, atomically finished.

``generate_task(card)`` builds the graph, the node split and the coarse partition,
integrates the system (:func:`roma_bench.dynamics.integrate.simulate`) and writes the
field in blocks of ``FRAME_CHUNK`` frames into ``<out>.partial``. After every block
it flushes the file and atomically writes a checkpoint ``<out>.partial.ckpt.npz``
(float64 state, step, frames written, block digests), so a killed run continues with
``resume=True`` and ends bit-identical to an uninterrupted one (the dynamics are
deterministic given the card; time is ``step·dt``, never accumulated). At the end the
checksums are written and ``<out>.partial`` is renamed to ``<out>``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from roma_bench.cards import TaskCard
from roma_bench.data import format as fmt
from roma_bench.data.format import StoreError
from roma_bench.data.guard import checkpoint_path, one_writer_per_store, partial_path
from roma_bench.data.store import TaskStore, verify_store
from roma_bench.data.writing import (
    block_observables,
    check_partial_matches,
    create_partial,
    finish_store,
    static_arrays,
    write_normalization,
)
from roma_bench.dynamics import build_system
from roma_bench.dynamics.integrate import simulate
from roma_bench.files import atomic_path
from roma_bench.paths import task_data_path


class GenerationInterrupted(KeyboardInterrupt):
    """Generation stopped by Ctrl-C / SIGTERM; the partial file and checkpoint are kept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _save_checkpoint(path: Path, state: np.ndarray, step: int, frames: int, digests, card_sha):
    with atomic_path(path) as tmp:
        np.savez(
            tmp,
            state=state,
            step=np.int64(step),
            frames_done=np.int64(frames),
            block_digests=np.array(digests, dtype="S64"),
            card_sha256=np.array(card_sha),
        )


THREADS_ENV = "ROMA_BENCH_GENERATE_THREADS"


@contextlib.contextmanager
def _simulation_threads() -> Iterator[None]:
    """Run the simulation's torch kernels on ``$ROMA_BENCH_GENERATE_THREADS`` threads (default 1).

    The right-hand side is memory-bound (two sparse mat-vecs, single-threaded in scipy) plus
    N sines and cosines; torch's thread pool gains at most ~1.3x there on an idle machine,
    and on a busy one its synchronisation made a 314k-node step 6-10x slower. Restores
    torch's thread count afterwards.
    """
    previous = torch.get_num_threads()
    raw = os.environ.get(THREADS_ENV, "1")
    try:
        threads = int(raw)
        if threads < 1:
            raise ValueError
    except ValueError:
        raise StoreError(f"{THREADS_ENV}={raw!r}: expected a positive integer") from None
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while generating (main thread only)."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _frames(system, state: np.ndarray, step: int, card: TaskCard) -> Iterator[np.ndarray]:
    """The saved states after ``step`` (float64 ``[N]``), one per frame."""

    sim = card.simulation
    check = getattr(system, "check_state", None)
    for saved_step, _, y in simulate(system, state, step, sim.steps, sim.dt, sim.save_every):
        if check is not None:
            try:
                check(saved_step, y)
            except FloatingPointError as err:
                raise StoreError(f"task {card.name}: the simulation failed: {err}") from None
        yield y


@one_writer_per_store  # exclusive lock on <out>.lock; "up to date" only after verify_store
def generate_task(
    card: TaskCard,
    out: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    *,
    force: bool = False,
    on_block: Callable[[int], None] | None = None,
) -> Path:
    """Generate the store of ``card`` at ``out`` (default ``paths.task_data_path(card.name)``).

    - An existing complete ``out`` generated from the same card is kept (returned as is);
      from another card it is an error unless ``force``.
    - ``resume=True`` continues ``<out>.partial`` from its checkpoint; without it an existing
      partial file is an error unless ``force`` (which starts over).
    - ``on_block(frames_done)`` is called after each block is written and checkpointed.

    Raises :class:`GenerationInterrupted` on Ctrl-C/SIGTERM (partial file and checkpoint kept).
    """

    out = Path(out) if out is not None else task_data_path(card.name)
    partial, ckpt = partial_path(out), checkpoint_path(out)
    resolved = card.resolved()
    card_sha = fmt.card_sha256(resolved)
    if _up_to_date(out, card, force):
        return out
    if partial.exists() and not (resume or force):
        raise FileExistsError(
            f"{partial} is an unfinished generation of {card.name}: resume it (--resume) "
            "or start over (--force)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = _load_checkpoint(ckpt, card, card_sha) if resume and partial.exists() else None
    if checkpoint is None:
        for stale in (partial, ckpt):
            stale.unlink(missing_ok=True)

    t_start, cpu_start = time.perf_counter(), time.process_time()
    graph, arrays, parts = static_arrays(card)

    system = build_system(card, graph)  # refuses an unstable dt before any file is written
    del graph  # the system keeps what it needs
    if checkpoint is None:
        create_partial(partial, card, arrays, parts)
    else:
        check_partial_matches(partial, arrays)
    target = _Target(partial, ckpt, card, card_sha, torch.from_numpy(arrays["partition"]), parts)
    _simulate_into(target, system, checkpoint, progress, on_block)
    write_normalization(partial, card)
    finish_store(partial, resolved, card.system)
    if checkpoint is not None:
        # A resumed file was reopened after a crash: read every block back before trusting it.

        verify_store(partial, progress=progress, allow_partial=True)
    os.replace(partial, out)
    ckpt.unlink(missing_ok=True)
    if progress:
        wall, cpu = time.perf_counter() - t_start, time.process_time() - cpu_start
        print(f"{card.name}: wrote {out} in {wall:.1f} s (CPU {cpu:.1f} s)")
    return out


@dataclass(frozen=True)
class _Target:
    """Where a generation writes: the partial store, its checkpoint, and how blocks are
    summarised (``partition [N]`` into ``parts`` parts for the coarse observables)."""

    partial: Path
    ckpt: Path
    card: TaskCard
    card_sha: str
    partition: torch.Tensor
    parts: int


def _up_to_date(out: Path, card: TaskCard, force: bool) -> bool:
    """True when ``out`` is a complete store of ``card``; an error when it is something else
    (another card's store, or not a store), unless ``force``."""
    if not out.exists() or force:
        return False
    try:
        with TaskStore(out) as existing:
            same = existing.card.resolved() == card.resolved()
    except StoreError as err:
        raise FileExistsError(f"{out} exists but is not a valid store ({err}); use force") from None
    if same:
        return True
    raise FileExistsError(f"{out} exists and was generated from another card; use force")


def _load_checkpoint(ckpt: Path, card: TaskCard, card_sha: str) -> dict[str, Any] | None:
    """The arrays of ``ckpt`` (``None`` when there is none); refused if from another card."""
    if not ckpt.exists():
        return None
    with np.load(ckpt) as data:
        checkpoint = {key: data[key] for key in data.files}
    if str(checkpoint["card_sha256"]) != card_sha:
        raise StoreError(
            f"{ckpt}: the checkpoint belongs to another version of card {card.name!r}; "
            "start over with --force"
        )
    return checkpoint


def _start(system: Any, checkpoint: dict[str, Any] | None) -> tuple[np.ndarray, int, list[str]]:
    """``(state [N] float64, frames done, block digests)``: the initial state, or the
    checkpoint's."""
    if checkpoint is None:
        return np.asarray(system.initial_state(), dtype=np.float64), 0, []
    digests = [d.decode() for d in checkpoint["block_digests"].tolist()]
    return checkpoint["state"], int(checkpoint["frames_done"]), digests


def _write_block(
    f: h5py.File, field: h5py.Dataset, target: _Target, block: np.ndarray, start: int
) -> None:
    """Write frames ``start … start + k`` (``block [N, k]``) into ``field`` and their coarse
    observables into ``f``. ``field`` stays open for the whole generation: an h5py dataset
    handle dropped right after a failed write (ENOSPC) crashes HDF5 on deallocation."""
    card, stop = target.card, start + block.shape[1]
    if not np.isfinite(block).all():
        raise StoreError(
            f"task {card.name}: the simulation diverged (non-finite values before "
            f"frame {stop}); reduce simulation.dt"
        )
    field[:, start:stop] = block
    observables = block_observables(block, target.partition, target.parts, card.system)
    for name, values in observables.items():
        if values.ndim == 3:  # [m, k, C]
            f[name][:, start:stop, :] = values
        else:
            f[name][..., start:stop] = values


def _simulate_into(
    target: _Target,
    system: Any,
    checkpoint: dict[str, Any] | None,
    progress: bool,
    on_block: Callable[[int], None] | None,
) -> None:
    """Integrate and write every remaining block of frames into ``target.partial``, saving
    the checkpoint after each block."""
    from tqdm.auto import tqdm

    card, sim = target.card, target.card.simulation
    n, frames = len(target.partition), sim.frames
    state, frames_done, digests = _start(system, checkpoint)
    step = (frames_done - 1) * sim.save_every if frames_done else 0
    bar = tqdm(
        total=frames, initial=frames_done, unit="frame", desc=card.name, disable=not progress
    )
    try:
        with _sigterm_as_interrupt(), _simulation_threads(), h5py.File(target.partial, "r+") as f:
            field = f["field"]
            block_frames = int(field.attrs["block_frames"])
            stream = _frames(system, state, step, card)
            while frames_done < frames:
                stop = min(frames_done + block_frames, frames)
                block = np.empty((n, stop - frames_done), dtype=np.float32)
                for k in range(stop - frames_done):
                    if frames_done + k > 0:
                        state = next(stream)
                    block[:, k] = state
                    bar.update(1)
                _write_block(f, field, target, block, frames_done)
                digests.append(fmt.block_sha256(block))
                f.flush()
                frames_done = stop
                _save_checkpoint(target.ckpt, state, (stop - 1) * sim.save_every, stop, digests,
                                 target.card_sha)  # fmt: skip
                if on_block is not None:
                    on_block(frames_done)
            if "checksums/field_blocks" in f:  # killed after the last block, before finishing
                del f["checksums/field_blocks"]
            f["checksums/field_blocks"] = np.array(digests, dtype="S64")
    except KeyboardInterrupt:
        raise GenerationInterrupted(
            f"interrupted at frame {frames_done}/{frames}; kept {target.partial} and its "
            "checkpoint: rerun with --resume (resume=True) to continue"
        ) from None
    finally:
        bar.close()
