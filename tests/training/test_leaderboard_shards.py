"""``leaderboard run --shard i/n``: shards are disjoint, cover the board, and assemble to it."""

from __future__ import annotations

import csv
import json

import harness_doubles as doubles
import pytest
import yaml

from roma_bench.cli import main
from roma_bench.config import load_yaml
from roma_bench.registry import task_card_path
from roma_bench.results import board_entries

MODELS = "harness-linear,harness-persistence"


def test_shards_partition_the_board_entries():
    everything = board_entries(["a", "b"], ["tiny", "base"], 3)
    shards = [board_entries(["a", "b"], ["tiny", "base"], 3, (i, 3)) for i in (1, 2, 3)]
    assert sorted(e for s in shards for e in s) == sorted(everything)
    assert sum(map(len, shards)) == len(everything) == 12
    assert [len(s) for s in shards] == [4, 4, 4]
    with pytest.raises(ValueError, match=r"shard 3/2: expected 1 ≤ i ≤ n"):
        board_entries(["a"], ["tiny"], 1, (3, 2))


@pytest.mark.parametrize("text", ["3/2", "0/2", "1", "a/b"])
def test_bad_shard_is_one_line(text, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["leaderboard", "run", "--task", "km-tiny", "--shard", text])
    assert exit_info.value.code == 2
    assert "argument --shard: a shard" in capsys.readouterr().err


@pytest.fixture
def syn_task(tmp_path, monkeypatch):
    cards = tmp_path / "cards"
    cards.mkdir()
    card = load_yaml(task_card_path("km-tiny"))  # a valid card, renamed for the synthetic task
    card.update(name="syn-tiny", version="1.0")
    (cards / "syn-tiny.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(cards))
    monkeypatch.setenv("ROMA_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    doubles.install(monkeypatch)
    return tmp_path


def board_run(tmp_path, out: str, *extra: str) -> int:
    return main([
        "leaderboard", "run", "--task", "syn-tiny", "--models", MODELS, "--seeds", "2",
        "--steps", "3", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--out",
        str(tmp_path / out), "--set", "plots=false", "--set", "val_every=3", "--quiet",
        "--device", "cpu", *extra,
    ])  # fmt: skip


def run_keys(folder) -> set[tuple[str, int]]:
    files = (folder / "syn-tiny" / "runs").glob("*.json")
    return {(json.loads(p.read_text())["model"], json.loads(p.read_text())["seed"]) for p in files}


def test_two_shards_fill_the_board_of_one_run(syn_task, capsys):
    tmp_path = syn_task
    assert board_run(tmp_path, "whole") == 0
    assert board_run(tmp_path, "sharded", "--shard", "1/2") == 0
    first = run_keys(tmp_path / "sharded")
    assert "assemble the board with: roma-bench leaderboard show --task syn-tiny" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "sharded" / "syn-tiny.csv").exists()  # a shard writes no board
    assert board_run(tmp_path, "sharded", "--shard", "2/2") == 0
    second = run_keys(tmp_path / "sharded") - first
    assert first.isdisjoint(second) and len(first) == len(second) == 2
    assert (
        first | second
        == run_keys(tmp_path / "whole")
        == {(m, s) for m in MODELS.split(",") for s in (0, 1)}
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    show = ["leaderboard", "show", "--task", "syn-tiny", "--tracking-uri", uri]
    assert main([*show, "--out", str(tmp_path / "sharded")]) == 0
    sharded = list(csv.DictReader((tmp_path / "sharded" / "syn-tiny.csv").open()))
    whole = list(csv.DictReader((tmp_path / "whole" / "syn-tiny.csv").open()))
    per_run = {"train_time_s", "peak_memory_mb", "run_ids"}  # measured / named per run
    differ = {k for a, b in zip(sharded, whole) for k in a if a[k] != b[k]}
    assert differ <= per_run, differ  # ranks, scores, seeds, commands: the same board
    assert len(sharded) == len(whole) == 2
