"""Issue 15, failure 8: checkpoints hold no pickle; a pickled one is refused, never run."""

from __future__ import annotations

import math
import os

import harness_doubles as doubles
import pytest
import torch

from roma_bench import registry
from roma_bench.checkpoint_format import (
    CheckpointError,
    LegacyCheckpointError,
    read_checkpoint,
    write_checkpoint,
)
from roma_bench.cli import main
from roma_bench.models.base import load_checkpoint, save_checkpoint


class _Payload:
    """Unpickling this object creates the file ``marker`` (a stand-in for any code)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def evil_checkpoint(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    torch.save({"model_name": "gcn", "state_dict": {}, "extra": _Payload(str(marker))}, path)
    return path, marker


def test_malicious_pt_is_refused_by_evaluate_and_never_runs(evil_checkpoint, capsys):
    path, marker = evil_checkpoint
    assert main(["evaluate", "--checkpoint", str(path), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "a pickled torch.save file, refused" in err
    assert f"roma-bench convert-checkpoint {path} --trust" in err
    assert "weights_only=False" not in err
    assert not marker.exists()


def test_malicious_pt_is_not_run_by_convert_even_with_trust(evil_checkpoint, capsys):
    path, marker = evil_checkpoint
    assert main(["convert-checkpoint", str(path)]) == 2
    assert "pass --trust only for a file whose origin you trust" in capsys.readouterr().err
    assert main(["convert-checkpoint", str(path), "--trust"]) == 1  # weights-only loader refuses
    err = capsys.readouterr().err
    assert "refused by the weights-only loader" in err and "not converted" in err
    assert not marker.exists() and not path.with_suffix(".safetensors").exists()


def test_resume_from_a_legacy_folder_names_the_conversion(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    torch.save({"model_name": "gcn"}, tmp_path / "last.pt")
    assert main(["train", "--resume", str(tmp_path), "--quiet"]) == 2
    assert f"convert-checkpoint {tmp_path / 'last.pt'} --trust" in capsys.readouterr().err


def test_trusted_legacy_checkpoint_converts_to_the_same_model(tmp_path, capsys):
    model = registry.build_model("gcn", doubles.make_spec(), "tiny")
    legacy = {
        "model_name": model.name, "size": model.size,
        "config": model.config.model_dump(mode="json"), "spec": model.spec.to_dict(),
        "state_dict": model.state_dict(), "extra": {"step": 9, "betas": (0.9, 0.99)},
    }  # fmt: skip
    torch.save(legacy, tmp_path / "model.pt")
    assert main(["convert-checkpoint", str(tmp_path / "model.pt"), "--trust"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'model.safetensors'}"
    rebuilt, extra = load_checkpoint(tmp_path / "model.safetensors")
    assert extra == {"step": 9, "betas": (0.9, 0.99)}
    for name, weight in model.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], weight), name


def test_payload_round_trips_exactly(tmp_path):
    payload = {
        "optimizer": {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.randn(4, 2)}},
                      "param_groups": [{"betas": (0.9, 0.999), "lr": 1 / 3, "params": [0]}]},
        "rng": {"torch": torch.get_rng_state()},
        "book": {"best": math.inf, "last": math.nan, "val": [[3, 0.1 + 0.2]], "none": None},
        "complex": torch.randn(3, dtype=torch.complex64),
    }  # fmt: skip
    back = read_checkpoint(write_checkpoint(tmp_path / "x.safetensors", payload))
    assert back["optimizer"]["param_groups"] == payload["optimizer"]["param_groups"]
    assert torch.equal(back["optimizer"]["state"][0]["exp_avg"],
                       payload["optimizer"]["state"][0]["exp_avg"])  # fmt: skip
    assert torch.equal(back["rng"]["torch"], payload["rng"]["torch"])
    assert torch.equal(back["complex"], payload["complex"])
    assert back["book"]["best"] == math.inf and math.isnan(back["book"]["last"])
    assert back["book"]["val"] == [[3, 0.1 + 0.2]] and back["book"]["none"] is None


def test_damaged_checkpoint_is_a_fault_named_by_file(tmp_path, capsys):
    model = registry.build_model("gcn", doubles.make_spec(), "tiny")
    path = save_checkpoint(model, tmp_path / "model.safetensors", step=1)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(CheckpointError, match="damaged"):
        load_checkpoint(path)
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"\xff" * 40)
    assert main(["evaluate", "--checkpoint", str(path), "--device", "cpu"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"roma-bench evaluate: error: checkpoint {path}: damaged (unreadable header)"
    )


def test_missing_checkpoint_is_bad_input(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nope.safetensors")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"roma-bench evaluate: error: checkpoint {tmp_path / 'nope.safetensors'}: no such file"
    )
    with pytest.raises(LegacyCheckpointError):
        (tmp_path / "raw.pt").write_bytes(b"\x80\x04K\x01.")  # a raw pickle of 1
        read_checkpoint(tmp_path / "raw.pt")


def test_evaluate_a_run_of_an_older_version_names_the_conversion(tmp_path, capsys):
    folder = tmp_path / "old-run"
    folder.mkdir()
    torch.save({"model_name": "gcn"}, folder / "model.pt")
    assert main(["evaluate", "--run", str(folder), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"convert-checkpoint {folder / 'model.pt'} --trust" in err
