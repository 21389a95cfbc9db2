"""Issue 15, failures 5 and 7: training faults end in one line, a FAILED run, and resumable work."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys

import harness_doubles as doubles
import mlflow
import pytest
from racing import ROOT

from roma_bench.cli import main
from roma_bench.training.checkpointing import MODEL_FILE, STATE_FILE

ARGS = ["--model", "harness-linear", "--task", "syn-tiny", "--steps", "6", "--device", "cpu",
        "--set", "val_every=3", "--set", "checkpoint_every=3", "--set", "plots=false", "--quiet"]  # fmt: skip


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def last_run(uri: str):
    return mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("syn-tiny").experiment_id],
        order_by=["attributes.start_time DESC"],
    )[0]


def test_disk_full_while_training_is_one_line_and_a_failed_run(env, monkeypatch, capsys):
    import safetensors.torch

    doubles.install(monkeypatch)

    def full_disk(tensors, filename, metadata=None):
        raise OSError(errno.ENOSPC, "No space left on device", filename)

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    uri = f"sqlite:///{env / 'mlflow.db'}"
    out = env / "run"
    assert main(["train", *ARGS, "--tracking-uri", uri, "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("roma-bench train: error: ")
    assert f"{out}/.{MODEL_FILE}." in captured.err
    assert captured.err.rstrip().endswith(": no space left on device (ENOSPC)")
    assert "checkpoint" not in captured.out  # no path to a file that was never written
    run = last_run(uri)
    assert run.info.status == "FAILED"
    assert "No space left on device" in run.data.tags["roma.failure"]
    assert (out / "run.json").is_file() and not (out / MODEL_FILE).exists()


def test_model_config_is_validated_before_any_data_is_opened(env, monkeypatch, capsys):
    opened = doubles.install(monkeypatch)
    args = [*ARGS, "--set", "model.nonexistent=1", "--tracking-uri", f"sqlite:///{env / 'db'}"]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nonexistent: unknown key" in err
    assert opened == {}  # the task data was never opened (nor generated)


@pytest.mark.parametrize(
    "flag, message",
    [
        (["--seed", "-1"], "argument --seed: a seed must be in [0, 4294967295], got -1"),
        (["--set", "steps=1e23"], "steps:"),
        (["--set", "steps=2000000000"], "steps: Input should be less than or equal to 1000000000"),
        (["--set", "seed=4294967296"], "seed: Input should be less than 4294967296"),
    ],
)
def test_numeric_bounds_are_one_line_exit_2(env, monkeypatch, capsys, flag, message):
    opened = doubles.install(monkeypatch)
    if flag[0] == "--seed":  # an argparse type: the parser exits with status 2
        with pytest.raises(SystemExit) as stop:
            main(["train", *ARGS, *flag])
        assert stop.value.code == 2
    else:
        assert main(["train", *ARGS, *flag]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and opened == {}


def test_out_under_a_regular_file_is_one_line(env, monkeypatch, capsys):
    doubles.install(monkeypatch)
    (env / "file").write_text("x")
    uri = f"sqlite:///{env / 'mlflow.db'}"
    assert main(["train", *ARGS, "--tracking-uri", uri, "--out", str(env / "file" / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a directory (ENOTDIR)" in err
    assert last_run(uri).info.status == "FAILED"


def test_missing_resume_folder_is_bad_input(env, capsys):
    uri = f"sqlite:///{env / 'mlflow.db'}"
    assert main(["train", "--resume", str(env / "nope"), "--tracking-uri", uri]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a run folder nor a run id" in err


def test_run_killed_before_its_first_checkpoint_resumes_from_the_start(env, monkeypatch, capsys):
    doubles.install(monkeypatch, kill_at=2)  # dies at step 2; first checkpoint would be at 3
    uri = f"sqlite:///{env / 'mlflow.db'}"
    out = env / "early"
    with pytest.raises(doubles.SimulatedKillError):
        main(["train", *ARGS, "--tracking-uri", uri, "--out", str(out)])
    assert not (out / STATE_FILE).exists() and (out / "run.json").is_file()
    run_id = last_run(uri).info.run_id
    doubles.install(monkeypatch)
    assert main(["train", "--resume", str(out), "--tracking-uri", uri, "--quiet"]) == 0
    resumed_out = capsys.readouterr().out
    assert f"run {run_id}: FINISHED after 6 steps" in resumed_out
    doubles.install(monkeypatch)
    assert main(["train", *ARGS, "--tracking-uri", uri, "--out", str(env / "straight")]) == 0
    straight = capsys.readouterr().out
    best = [line for line in straight.splitlines() if "best val_loss" in line]
    assert best and best[0] in resumed_out  # same numbers as an uninterrupted run


KILLED_WORKER = """
import os, signal, sys
from roma_bench.tracking.runs import TrackedRun
run = TrackedRun("stale", tracking_uri=sys.argv[1], run_name="doomed")
print(run.run_id, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_run_of_a_killed_process_is_marked_failed_when_the_store_is_next_used(tmp_path):
    from roma_bench.tracking.runs import TrackedRun

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", KILLED_WORKER, uri], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    doomed = proc.stdout.split()[0]
    client = mlflow.MlflowClient(uri)
    assert client.get_run(doomed).info.status == "RUNNING"
    with TrackedRun("stale", tracking_uri=uri, run_name="next"):
        pass
    run = client.get_run(doomed)
    assert run.info.status == "FAILED"
    assert run.data.tags["roma.failure"].startswith("stale: process ")
    assert run.data.tags["roma.failure"].endswith("ended without closing the run")


def test_missing_init_checkpoint_is_refused_before_any_data_is_opened(env, monkeypatch, capsys):
    opened = doubles.install(monkeypatch)
    missing = env / "pretrained.safetensors"
    args = [
        *ARGS,
        "--set",
        f"init_checkpoint={missing}",
        "--tracking-uri",
        f"sqlite:///{env / 'db'}",
    ]
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err == f"roma-bench train: error: checkpoint {missing}: no such file\n"
    assert opened == {}
