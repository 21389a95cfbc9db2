"""Issue 15, failures 2, 5 and 6: task stores under races, full disks and damage."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import pytest
import yaml
from racing import ROOT, race

from roma_bench.cards import load_card
from roma_bench.cli import main
from roma_bench.data import TaskStore, generate_task, verify_store


def small_card(folder: Path, **simulation) -> Path:
    """A km-tiny variant that generates in ~2 s (800 nodes, 201 frames)."""
    card = yaml.safe_load((ROOT / "tasks" / "km-tiny.yaml").read_text())
    card["name"] = "km-race"
    card["graph"]["nodes"] = 800
    card["split"].update(val_nodes=64, test_nodes=64)
    card["batch"]["nodes"] = 256
    card["simulation"].update({"steps": 1000, **simulation})
    path = folder / "km-race.yaml"
    path.write_text(yaml.safe_dump(card))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, str]:
    """The card and the checksum of an uninterrupted, unraced generation."""
    folder = tmp_path_factory.mktemp("reference")
    card = small_card(folder)
    out = generate_task(load_card(card), folder / "km-race.h5", progress=False)
    with TaskStore(out) as store:
        return card, store.checksum


def debris(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".partial" in p.name or ".tmp" in p.name)


@pytest.mark.timeout(300)
def test_two_forced_generations_at_once(tmp_path, reference):
    """Two `generate --force` on one file, released together, three times: one store, intact."""
    card, checksum = reference
    setup = (
        "from roma_bench.cards import load_card\nfrom roma_bench.data import generate_task, TaskStore\n"
        f"card = load_card({str(card)!r})"
    )
    action = """
out = root / f"r{round_}" / "km-race.h5"
generate_task(card, out, progress=False, force=True)
with TaskStore(out) as store:
    print(store.checksum)
"""
    finished = race(tmp_path, 2, setup, action, rounds=3)
    for worker in finished:
        assert worker.returncode == 0, worker.stderr[-3000:]
        assert worker.stdout.split() == [checksum] * 3
    for round_ in range(3):
        verify_store(tmp_path / f"r{round_}" / "km-race.h5")
        assert debris(tmp_path / f"r{round_}") == []


def test_damaged_store_is_never_up_to_date(tmp_path, reference, capsys):
    card, checksum = reference
    out = tmp_path / "km-race.h5"
    assert main(["generate", str(card), "--out", str(out), "--quiet"]) == 0
    with h5py.File(out, "r+") as f:  # flip one value, leave every checksum as it was
        f["field"][3, 7] = f["field"][3, 7] + 1.0
    capsys.readouterr()
    assert main(["generate", str(card), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is up to date" not in err
    assert f"{out}: verification failed: field: frames [0, " in err and "--force" in err
    assert main(["generate", str(card), "--out", str(out), "--quiet", "--force"]) == 0
    with TaskStore(out) as store:
        assert store.checksum == checksum


def test_damaged_block_digests_are_named_by_verify(tmp_path, reference, capsys):
    card, _ = reference
    out = generate_task(load_card(card), tmp_path / "km-race.h5", progress=False)
    with h5py.File(out, "r+") as f:
        f["checksums/field_blocks"][0] = b"\xff" * 64
    assert main(["verify", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"{out}: verification failed: checksums/field_blocks is damaged" in err


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_train_and_evaluate_on_a_damaged_store_say_so_in_one_line(
    tmp_path, reference, monkeypatch, capsys, command
):
    card, _ = reference
    monkeypatch.setenv("ROMA_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    out = generate_task(load_card(card), tmp_path / "data" / "km-race.h5", progress=False)
    with h5py.File(out, "r+") as f:
        del f["graph/radius"]
    if command == "train":
        args = ["train", "--model", "gcn", "--task", str(card), "--steps", "2", "--quiet"]
    else:
        from harness_doubles import make_spec

        from roma_bench import registry
        from roma_bench.models.base import save_checkpoint

        model = registry.build_model("gcn", make_spec(name="km-race"), "tiny")
        ckpt = save_checkpoint(model, tmp_path / "model.safetensors", task=str(card))
        args = ["evaluate", "--checkpoint", str(ckpt), "--task", str(card), "--device", "cpu"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"roma-bench {command}: error: {out}: missing arrays graph/radius")


def _fail_writes_after(monkeypatch, calls: int) -> None:
    """Make the ``calls``-th and later writes into an HDF5 dataset fail with ENOSPC."""
    original = h5py.Dataset.__setitem__
    seen = {"n": 0}

    def write(self, key, value):
        seen["n"] += 1
        if seen["n"] >= calls and self.name == "/field":
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, key, value)

    monkeypatch.setattr(h5py.Dataset, "__setitem__", write)


def test_disk_full_while_generating_keeps_the_work_and_resumes(tmp_path, reference, monkeypatch,
                                                               capsys):  # fmt: skip
    card, checksum = reference
    out = tmp_path / "km-race.h5"
    with monkeypatch.context() as patch:
        _fail_writes_after(patch, 3)  # the first block is written, then the disk is full
        assert main(["generate", str(card), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"generating {out}: {out}.partial: no space left on device (ENOSPC)" in err
    assert "kept" in err and "--resume" in err
    assert not out.exists() and Path(f"{out}.partial").exists()
    assert main(["generate", str(card), "--out", str(out), "--quiet", "--resume"]) == 0
    with TaskStore(out) as store:
        assert store.checksum == checksum  # bit-identical to the uninterrupted generation
    assert debris(tmp_path) == []


def test_unstable_dt_is_refused_before_any_file_is_written(tmp_path, capsys):
    card = small_card(tmp_path, dt=5.0)
    out = tmp_path / "out" / "km-race.h5"
    assert main(["generate", str(card), "--out", str(out), "--quiet"]) == 2
    assert "simulation.dt = 5.0 exceeds the stable step" in capsys.readouterr().err
    assert sorted(p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")) == []


def test_output_under_a_regular_file_is_bad_input(tmp_path, reference, capsys):
    card, _ = reference
    (tmp_path / "file").write_text("x")
    assert main(["generate", str(card), "--out", str(tmp_path / "file" / "x.h5")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a directory (ENOTDIR)" in err
    assert not (tmp_path / "file" / "x.h5.partial").exists()


@pytest.fixture
def small_tmpfs(tmp_path):
    """A real 400 KiB tmpfs (needs root and mount permission; skipped otherwise)."""
    import shutil
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real full disk needs a small tmpfs: not root, so no mount here")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"a real full disk needs a small tmpfs: mount refused ({done.stderr.strip()})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.mark.timeout(300)
def test_real_full_disk_while_generating(small_tmpfs, reference):
    """On a real full tmpfs: exit 1 with one line (HDF5 used to segfault, exit 139), then
    more space and --resume give the uninterrupted store bit for bit."""
    import subprocess
    import sys

    card, checksum = reference
    out = small_tmpfs / "km-race.h5"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "roma_bench", "generate", str(card), "--out", str(out),
               "--quiet"]  # fmt: skip
    full = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert full.returncode == 1, full.stderr[-2000:]
    assert full.stderr.count("\n") == 1 and "(ENOSPC)" in full.stderr
    assert f"kept {out}.partial and its checkpoint" in full.stderr
    subprocess.run(["mount", "-o", "remount,size=4m", str(small_tmpfs)], check=True)
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, env=env,
                             timeout=240)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with TaskStore(out) as store:
        assert store.checksum == checksum
