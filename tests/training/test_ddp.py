"""DDP under a 2-process gloo group on real km-tiny batches: the averaged-gradient step, resume."""

from __future__ import annotations

import ddp_workers
import pytest
import torch
import torch.multiprocessing as mp

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.data.windows import step_seed
from roma_bench.registry import build_model
from roma_bench.training.checkpointing import STATE_FILE
from roma_bench.training.config import TrainConfig
from roma_bench.training.data import open_task_data
from roma_bench.training.distributed import TrainingObjective
from roma_bench.training.loop import _autocast, seed_everything
from roma_bench.training.normalization import harness_model
from roma_bench.training.schedules import build_optimizer

WORLD = 2
# ~20 s per job of 2 spawned processes (imports dominate): one default case, the rest slow
SLOW = pytest.mark.slow
MODELS = [("gcn", "tiny"), pytest.param("roma", "tiny", marks=SLOW)]


@pytest.fixture
def km_tiny(km_tiny_store, tmp_path, monkeypatch):
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    return km_tiny_store


def settings(model: str, size: str, steps: int, **kwargs) -> dict:
    return dict(
        model_name=model, size=size, task="km-tiny", steps=steps, val_every=steps,
        checkpoint_every=2, log_every=1, device="cpu", plots=False, evaluate_test=False,
        optim={"lr": 3e-3, "warmup_steps": 1}, **kwargs,
    )  # fmt: skip


def run_ddp(tmp_path, km_tiny, config: dict, out: str, **kwargs) -> dict[str, torch.Tensor]:
    """Run ``train(config)`` on 2 gloo ranks; rank 0's ``last.safetensors`` weights."""
    args = (WORLD, ddp_workers.free_port(), config, f"sqlite:///{tmp_path / 'mlflow.db'}",
            str(tmp_path / out), str(km_tiny.parent), kwargs.get("kill_at"),
            kwargs.get("resume", False))  # fmt: skip
    mp.spawn(ddp_workers.train_rank, args=args, nprocs=WORLD, join=True)
    return read_checkpoint(tmp_path / out / STATE_FILE)["state_dict"]


def averaged_gradient_step(config: TrainConfig) -> dict[str, torch.Tensor]:
    """One single-process step on the gradient (g(item 0) + g(item 1)) / 2 of stream step 0."""
    data = open_task_data(config.task, seed=config.seed, progress=False)
    seed_everything(config.seed)
    model = build_model(config.model_name, data.spec, config.size, config.model)
    harness = harness_model(model, data.normalization, config.normalization)
    objective = TrainingObjective(harness, config, _autocast(torch.device("cpu"), False)[0])
    optimizer, scheduler = build_optimizer(model.parameters(), config.optim, config.steps)
    optimizer.zero_grad(set_to_none=True)
    for item in range(WORLD):  # rank r's batch at step 0 is item 0·w + r
        seed_everything(step_seed(config.seed, 0))
        loss, _ = objective(data.train_windows[item])
        (loss / WORLD).backward()
    params = [p for p in model.parameters() if p.requires_grad]
    torch.nn.utils.clip_grad_norm_(params, config.optim.grad_clip)
    optimizer.step()
    scheduler.step()
    return {k: v.detach() for k, v in model.state_dict().items()}


@pytest.mark.parametrize(("model", "size"), MODELS)
def test_one_ddp_step_equals_the_averaged_gradient_step(km_tiny, tmp_path, model, size):
    config = settings(model, size, steps=1)
    got = run_ddp(tmp_path, km_tiny, config, "ddp")
    want = averaged_gradient_step(TrainConfig(**config))
    assert got.keys() == want.keys()
    moved = 0
    for key, value in want.items():
        torch.testing.assert_close(got[key], value, atol=1e-6, rtol=0, msg=key)
        moved += int(not torch.equal(value, build_reference_init(config)[key]))
    assert moved > 0  # the step changed the weights


def build_reference_init(config: dict) -> dict[str, torch.Tensor]:
    cfg = TrainConfig(**config)
    data = open_task_data(cfg.task, seed=cfg.seed, progress=False)
    seed_everything(cfg.seed)
    return build_model(cfg.model_name, data.spec, cfg.size, cfg.model).state_dict()


@SLOW
@pytest.mark.parametrize(("model", "size"), [("gcn", "tiny"), ("roma", "tiny")])
def test_resumed_ddp_run_ends_with_the_uninterrupted_weights(km_tiny, tmp_path, model, size):
    config = settings(model, size, steps=4)
    want = run_ddp(tmp_path, km_tiny, config, "straight")
    run_ddp(tmp_path, km_tiny, config, "resumed", kill_at=3)  # checkpoint at 2, dies before 3
    assert read_checkpoint(tmp_path / "resumed" / STATE_FILE)["extra"]["step"] == 2
    got = run_ddp(tmp_path, km_tiny, config, "resumed", resume=True)
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key
