"""A real ``mlflow server`` on 127.0.0.1: a short training run's params, metrics and artifacts arrive."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
import harness_doubles as doubles

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import train

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    command = [
        str(mlflow_bin), "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'server.db'}",
        "--serve-artifacts", "--artifacts-destination", str(root / "artifacts"),
        "--workers", "1",
    ]  # fmt: skip
    log = open(root / "server.log", "w")  # noqa: SIM115
    env = {**os.environ, "MLFLOW_TRACKING_URI": ""}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"mlflow server exited: {(root / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"mlflow server did not answer: {(root / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield url, root
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_training_run_arrives_on_the_server(mlflow_server, tmp_path, monkeypatch):
    import mlflow

    url, root = mlflow_server
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    doubles.install(monkeypatch)
    config = TrainConfig(
        model_name="harness-linear", task="syn-tiny", steps=6, val_every=3, checkpoint_every=3,
        log_every=1, device="cpu", optim={"lr": 2e-3},
    )  # fmt: skip
    result = train(config, tracking_uri=url, progress=False, out_dir=tmp_path / "run")
    assert result.status == "FINISHED"

    client = mlflow.MlflowClient(url)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")  # proxied by the server
    params = run.data.params
    assert params["model_name"] == "harness-linear" and params["steps"] == "6"
    assert params["optim.lr"] == "0.002" and params["resolved_model.hidden"] == "16"
    tags = run.data.tags
    for key in (
        "roma.task_version",
        "roma.data_checksum",
        "git_commit",
        "version.torch",
        "device_name",
        "roma.cpu_peak_memory_mb",
        "roma.wall_time_s",
        "roma.num_parameters",
    ):
        assert tags.get(key), key  # fmt: skip
    assert int(tags["roma.num_parameters"]) == result.num_parameters
    train_loss = client.get_metric_history(result.run_id, "train_loss")
    assert [m.step for m in train_loss] == [1, 2, 3, 4, 5, 6]
    assert [m.step for m in client.get_metric_history(result.run_id, "val_loss")] == [3, 6]
    assert run.data.metrics["test_smspe"] == pytest.approx(result.metrics["smspe"])

    names = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert names == {"plots/loss_curves.png", "plots/prediction_vs_truth.png",
                     "plots/order_parameter.png"}  # fmt: skip
    local = client.download_artifacts(result.run_id, "checkpoint/model.safetensors", str(tmp_path))
    payload = read_checkpoint(local)
    assert payload["model_name"] == "harness-linear"
    stored = list((root / "artifacts").rglob("model.safetensors"))
    assert len(stored) == 1  # the bytes live in the server's artifact store
