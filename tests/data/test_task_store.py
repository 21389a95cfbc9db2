"""The HDF5 task store: contents equal the simulation, checksums catch damage, resume is exact."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from roma_bench.data import format as fmt
from roma_bench.data.generation import GenerationInterrupted, generate_task
from roma_bench.data.guard import checkpoint_path, partial_path
from roma_bench.data.store import StoreError, TaskStore, verify_store


def _copy(path: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.h5"
    shutil.copyfile(path, target)
    return target


def test_store_holds_exactly_the_simulated_frames(micro_store, micro_card) -> None:
    from roma_bench.dynamics import build_system, simulate

    sim = micro_card.simulation
    with TaskStore(micro_store) as store:
        field = store.read_field(np.arange(store.num_nodes), 0, store.num_frames)
        system = build_system(micro_card, store.graph)
    expected = [system.initial_state()]
    expected += [
        y for _, _, y in simulate(system, expected[0], 0, sim.steps, sim.dt, sim.save_every)
    ]
    expected = np.stack(expected, axis=1).astype(np.float32)
    assert field.shape == (400, 101) == expected.shape
    np.testing.assert_array_equal(field, expected)


def test_metadata(micro_store, micro_card) -> None:
    with TaskStore(micro_store) as store:
        assert store.card == micro_card
        assert (store.num_nodes, store.num_frames) == (400, 101)
        assert store.frame_dt == pytest.approx(0.04)
        np.testing.assert_allclose(store.times, np.arange(101) * 0.04)
        assert store.version == "0.1" and len(store.checksum) == 64
        assert store.package_versions["numpy"] == np.__version__
        graph = store.graph
        assert graph.num_nodes() == 400 and {"radius", "angle", "community"} <= set(graph.ndata)
        split = store.split
        ids = torch.cat([split.train, split.val, split.test])
        assert torch.equal(ids.sort().values, torch.arange(400))
        assert (len(split.val), len(split.test)) == (32, 48)
        assert store.partition.unique().tolist() == list(range(store.num_parts))
        assert store.coords.shape == (400, 2)


def test_stored_observables_match_the_field(micro_store) -> None:
    from roma_bench.dynamics.observables import coarse_observables, order_parameter

    with TaskStore(micro_store) as store:
        field = torch.from_numpy(store.read_field(np.arange(400), 0, 101)).double()
        coarse = coarse_observables(field, store.partition, store.num_parts, "kuramoto")
        np.testing.assert_allclose(store.observable("coarse"), coarse.numpy(), atol=1e-6)
        radius = np.linalg.norm(coarse.numpy(), axis=-1)
        np.testing.assert_allclose(store.observable("community_order"), radius, atol=1e-6)
        phase = np.arctan2(coarse[..., 1].numpy(), coarse[..., 0].numpy())
        np.testing.assert_allclose(store.observable("community_phase"), phase, atol=1e-5)
        np.testing.assert_allclose(
            store.observable("order_parameter"), order_parameter(field).numpy(), atol=1e-6
        )


def test_verify_passes_on_an_intact_store(micro_store) -> None:
    verify_store(micro_store)


def test_truncated_file_fails_verify_and_open(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    with open(damaged, "r+b") as handle:
        handle.truncate(damaged.stat().st_size * 6 // 10)
    with pytest.raises(StoreError, match=r"copy\.h5: .*damaged or truncated"):
        verify_store(damaged)
    with pytest.raises(StoreError, match="damaged or truncated"):
        TaskStore(damaged)


def _flip_byte_in_chunk(path: Path, dataset: str, chunk: int) -> tuple[int, ...]:
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset + info.size // 2)
        byte = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([byte ^ 0x10]))
    return info.chunk_offset


def test_bit_flipped_field_fails_verify_and_reading(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    node0, frame0 = _flip_byte_in_chunk(damaged, "field", 5)
    with pytest.raises(StoreError, match=rf"field: frames \[{frame0}, {frame0 + 32}\) corrupted"):
        verify_store(damaged)
    with TaskStore(damaged) as store, pytest.raises(StoreError, match="field chunk unreadable"):
        store.read_field(np.array([node0]), frame0, frame0 + 1)


def test_bit_flipped_static_array_fails_loading(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    _flip_byte_in_chunk(damaged, "partition", 0)
    with pytest.raises(StoreError, match="partition"):
        verify_store(damaged)
    with TaskStore(damaged) as store, pytest.raises(StoreError, match="partition"):
        _ = store.partition


def test_missing_array_is_named(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    with h5py.File(damaged, "r+") as f:
        del f["observables/coarse"]
    with pytest.raises(StoreError, match="missing arrays observables/coarse"):
        verify_store(damaged)


def test_altered_checksum_attribute_fails_open(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    with h5py.File(damaged, "r+") as f:
        f["split/test"].attrs["sha256"] = "0" * 64
    with pytest.raises(StoreError, match="data checksum does not match"):
        TaskStore(damaged)


def test_wrong_format_version_is_refused(micro_store, tmp_path) -> None:
    damaged = _copy(micro_store, tmp_path)
    with h5py.File(damaged, "r+") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(StoreError, match="reads task-store format 2, the file is format 99"):
        TaskStore(damaged)


def _arrays(path: Path) -> dict[str, np.ndarray]:
    out = {}

    def collect(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]

    with h5py.File(path, "r") as f:
        f.visititems(collect)
        out["attrs"] = {k: v for k, v in f.attrs.items() if k != "versions"}
    return out


class _KilledError(RuntimeError):
    pass


def test_interrupted_then_resumed_equals_uninterrupted(micro_store, micro_card, tmp_path) -> None:
    out = tmp_path / "micro.h5"

    def die_after_two_blocks(frames_done: int) -> None:
        if frames_done >= 64:
            raise _KilledError

    with pytest.raises(_KilledError):
        generate_task(micro_card, out, progress=False, on_block=die_after_two_blocks)
    assert not out.exists() and partial_path(out).exists() and checkpoint_path(out).exists()
    with pytest.raises(FileExistsError, match="resume it"):
        generate_task(micro_card, out, progress=False)
    resumed_blocks = []
    generate_task(micro_card, out, resume=True, progress=False, on_block=resumed_blocks.append)
    assert resumed_blocks == [96, 101]  # continued from the checkpoint, not from the start
    assert not partial_path(out).exists() and not checkpoint_path(out).exists()
    expected, got = _arrays(micro_store), _arrays(out)
    assert expected.keys() == got.keys()
    for name in expected:
        if name == "attrs":
            assert expected[name] == got[name]
        else:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    verify_store(out)


def test_ctrl_c_keeps_the_partial_file(micro_card, tmp_path) -> None:
    out = tmp_path / "micro.h5"

    def ctrl_c(frames_done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(GenerationInterrupted, match=r"interrupted at frame 32/101; .*--resume"):
        generate_task(micro_card, out, progress=False, on_block=ctrl_c)
    with h5py.File(partial_path(out), "r") as f:
        assert not f.attrs["complete"]
    with pytest.raises(StoreError, match="generation did not finish"):
        TaskStore(partial_path(out))


def test_existing_store_of_the_same_card_is_kept(micro_store, micro_card, tmp_path) -> None:
    out = _copy(micro_store, tmp_path)
    mtime = out.stat().st_mtime_ns
    assert generate_task(micro_card, out, progress=False) == out
    assert out.stat().st_mtime_ns == mtime
    other = micro_card.model_copy(update={"version": "0.2"})
    with pytest.raises(FileExistsError, match="generated from another card; use force"):
        generate_task(other, out, progress=False)


def test_checksum_depends_on_the_card(micro_store) -> None:
    with TaskStore(micro_store) as store:
        arrays = store.array_checksums()
        changed = dict(store.card.resolved(), noise=0.5)
        assert fmt.data_checksum(changed, arrays) != store.checksum


@pytest.mark.slow
def test_resume_after_a_hard_kill(micro_store, micro_card, tmp_path) -> None:
    """SIGKILL right after a checkpoint (the HDF5 file is never closed), then resume."""
    import json
    import subprocess
    import sys

    out = tmp_path / "micro.h5"
    card_json = json.dumps(micro_card.resolved())
    script = f"""
import os, signal, json
from pathlib import Path
from roma_bench.cards import TaskCard
from roma_bench.data.generation import generate_task
card = TaskCard.model_validate(json.loads({card_json!r}))
def kill(frames_done):
    if frames_done >= 64:
        os.kill(os.getpid(), signal.SIGKILL)
generate_task(card, Path({str(out)!r}), progress=False, on_block=kill)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=300)
    assert result.returncode == -9, result.stderr.decode()
    assert partial_path(out).exists() and not out.exists()
    generate_task(micro_card, out, resume=True, progress=False)
    with TaskStore(out) as resumed, TaskStore(micro_store) as reference:
        assert resumed.checksum == reference.checksum
    verify_store(out)


def test_a_store_pickles_by_path(micro_store) -> None:
    import pickle

    with TaskStore(micro_store) as store:
        copy = pickle.loads(pickle.dumps(store))
        with copy:
            assert copy.checksum == store.checksum
            np.testing.assert_array_equal(
                copy.read_field([1, 2], 0, 5), store.read_field([1, 2], 0, 5)
            )


def test_the_field_in_memory_reads_what_the_chunked_reads_give(micro_store) -> None:
    """A small complete store's field is read whole once; every read equals the chunked
    HDF5 path's (nodes in any order, repeated), and ``memory_bytes=0`` never holds it."""
    import pickle

    rng = np.random.default_rng(0)
    with TaskStore(micro_store) as memory, TaskStore(micro_store, memory_bytes=0) as chunked:
        for _ in range(5):
            nodes = rng.integers(0, memory.num_nodes, size=37)  # repeats and any order
            start = int(rng.integers(0, memory.num_frames - 1))
            stop = int(rng.integers(start + 1, memory.num_frames + 1))
            got = memory.read_field(nodes, start, stop)
            assert got.dtype == np.float32 and got.shape == (37, stop - start)
            np.testing.assert_array_equal(got, chunked.read_field(nodes, start, stop))
        assert memory._field is not None and chunked._field is None
        with pytest.raises(ValueError, match="outside"):
            memory.read_field([0], 0, memory.num_frames + 1)
        assert pickle.loads(pickle.dumps(chunked))._memory_bytes == 0
