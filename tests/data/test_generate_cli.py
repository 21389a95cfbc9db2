"""``roma-bench generate`` / ``roma-bench verify``: exit codes and messages."""

from __future__ import annotations

import pytest
from cards_for_tests import micro_card_data, write_card

from roma_bench.cli import main
from roma_bench.data import generation


@pytest.fixture
def card_path(tmp_path):
    return write_card(tmp_path / "cards", micro_card_data(name="micro-cli"))


def test_generate_then_verify(card_path, tmp_path, capsys) -> None:
    out = tmp_path / "data"
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 0
    store = out / "micro-cli.h5"
    assert store.is_file()
    assert "400 nodes × 101 frames, checksum" in capsys.readouterr().out
    assert main(["verify", str(store), "--quiet"]) == 0
    assert f"{store}: OK (micro-cli v0.1" in capsys.readouterr().out
    # a second run keeps the file; a different card for the same path is refused
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 0
    assert "is up to date" in capsys.readouterr().out
    write_card(card_path.parent, micro_card_data(name="micro-cli", version="0.2"))
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 2
    assert "generated from another card; use force" in capsys.readouterr().err
    assert main(["generate", str(card_path), "--out", str(out), "--quiet", "--force"]) == 0


def test_verify_fails_on_damage(card_path, tmp_path, capsys) -> None:
    out = tmp_path / "micro.h5"
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 0
    with open(out, "r+b") as handle:
        handle.truncate(out.stat().st_size // 2)
    capsys.readouterr()
    assert main(["verify", str(out), "--quiet"]) == 1
    assert "damaged or truncated" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "absent.h5")]) == 2  # a missing path is bad input
    assert "no such file" in capsys.readouterr().err


def test_interrupt_then_resume(card_path, tmp_path, capsys, monkeypatch) -> None:
    out = tmp_path / "data"
    original = generation._save_checkpoint
    calls = []

    def ctrl_c_after_first_block(*args, **kwargs):
        original(*args, **kwargs)
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(generation, "_save_checkpoint", ctrl_c_after_first_block)
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert "interrupted at frame 32/101" in err and "--resume" in err
    assert (out / "micro-cli.h5.partial").is_file()
    monkeypatch.setattr(generation, "_save_checkpoint", original)
    assert main(["generate", str(card_path), "--out", str(out), "--quiet"]) == 2
    assert "resume it (--resume) or start over (--force)" in capsys.readouterr().err
    assert main(["generate", str(card_path), "--out", str(out), "--quiet", "--resume"]) == 0
    assert main(["verify", str(out / "micro-cli.h5"), "--quiet"]) == 0


def test_usage_errors(card_path, capsys) -> None:
    assert main(["generate", "no-such-task"]) == 2
    assert "unknown task 'no-such-task'" in capsys.readouterr().err
    assert main(["generate", str(card_path), "--resume", "--force"]) == 2
    assert "--resume and --force exclude each other" in capsys.readouterr().err
