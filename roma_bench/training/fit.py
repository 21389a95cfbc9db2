"""``train(config)``: one tracked training run of a model on a task.

AdamW with warm-up and cosine decay (:mod:`~roma_bench.training.schedules`),
gradient-norm clipping, autocast on CUDA (bf16 where supported, else fp16 with a
grad scaler), validation on the held-out subgraph every ``val_every`` steps,
early stopping, checkpoints every ``checkpoint_every`` steps and at the end
(:mod:`~roma_bench.training.checkpointing`), a NaN / divergence guard, and an
MLflow run holding the resolved config, metrics, environment tags and plots.

Reproducibility: before step ``s`` every RNG (torch, numpy, DGL) is seeded from
``(seed, s)`` and the training batch is a function of ``(seed, s)``, so
``train(config, resume=True, out_dir=...)`` after a crash ends with the same weights
as an uninterrupted run. Models with ``learnable = False`` are only evaluated.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.config import ConfigError
from roma_bench.models.base import load_checkpoint
from roma_bench.paths import runs_dir
from roma_bench.registry import build_model, get_model_class
from roma_bench.tracking.environment import environment_tags, reset_cpu_peak_memory
from roma_bench.tracking.runs import TrackedRun
from roma_bench.tracking.tags import tag
from roma_bench.training import data as task_data
from roma_bench.training.checkpointing import MODEL_FILE, STATE_FILE
from roma_bench.training.config import TrainConfig
from roma_bench.training.distributed import (
    DistributedContext,
    SilentRun,
    broadcast_from_main,
    init_distributed,
    shutdown_distributed,
)
from roma_bench.training.loop import (
    TrainingDivergedError,
    TrainingLoop,
    TrainResult,
    seed_everything,
    validation_loss,
)
from roma_bench.training.report import command_for
from roma_bench.training.run_record import resume_run_id_of, write_run_record

__all__ = [
    "TrainResult",
    "TrainingDivergedError",
    "resolve_device",
    "seed_everything",
    "train",
    "validation_loss",
]


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA device (use auto or cpu)")
    return torch.device(name)


def _load_init_weights(model, path: str) -> None:
    source, _ = load_checkpoint(path)
    if source.name != model.name:
        raise ConfigError(
            f"init_checkpoint {path}: holds model {source.name!r}, not {model.name!r}"
        )
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as err:
        raise ConfigError(f"init_checkpoint {path}: weights do not fit the model ({err})") from None


def train(
    config: TrainConfig,
    *,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: dict | None = None,
    trial=None,
    progress: bool = True,
    resume: bool = False,
    out_dir: Path | None = None,
) -> TrainResult:
    """Train ``config.model_name`` on ``config.task`` in one MLflow run; see the module docstring.

    ``trial`` (an ``optuna.Trial``) receives the validation loss at each validation and
    prunes the run (``optuna.TrialPruned`` is raised, the MLflow run is marked KILLED with
    tag ``roma.status=PRUNED``). ``resume=True`` continues from ``out_dir/last.safetensors``.

    Under ``torchrun`` (``WORLD_SIZE > 1``) every rank calls this; see
    :mod:`roma_bench.training.distributed`. Ranks other than 0 return a result without test
    metrics; ``out_dir`` must then be on a file system every rank sees for ``resume``.
    """
    started = time.perf_counter()
    device = resolve_device(config.device)
    context, device = init_distributed(device)  # torchrun: join the group, cuda:LOCAL_RANK
    try:
        return _train(
            config, device, context, started, tracking_uri=tracking_uri, run_name=run_name,
            nested=nested, tags=tags, trial=trial, progress=progress, resume=resume,
            out_dir=out_dir,
        )  # fmt: skip
    finally:
        shutdown_distributed(context)


def _train(
    config: TrainConfig,
    device: torch.device,
    context: DistributedContext,
    started: float,
    *,
    tracking_uri: str | None,
    run_name: str | None,
    nested: bool,
    tags: dict | None,
    trial,
    progress: bool,
    resume: bool,
    out_dir: Path | None,
) -> TrainResult:
    resume_run_id = None
    if resume:
        if out_dir is None:
            raise ConfigError("resume needs the run folder (out_dir) holding last.safetensors")
        resume_run_id = resume_run_id_of(Path(out_dir))
    # The whole configuration, the model's included, is checked before any data is opened.
    get_model_class(config.model_name).make_config(None, config.size, config.model)
    if config.init_checkpoint:  # exists, is no pickle, is not damaged: before any data work
        read_checkpoint(config.init_checkpoint, tensors=False)
    data = task_data.open_task_data(
        config.task, config.learning_task, seed=config.seed, noise=config.noise, progress=progress
    )
    spec = data.spec
    seed_everything(config.seed)
    model = build_model(config.model_name, spec, config.size, config.model)
    if config.init_checkpoint:
        _load_init_weights(model, config.init_checkpoint)
    model.to(device)
    learnable = bool(getattr(model, "learnable", True)) and model.num_parameters() > 0
    num_parameters = model.num_parameters()
    reset_cpu_peak_memory()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    run_tags = {
        tag("task"): spec.name,
        tag("task_version"): data.version,
        tag("data_checksum"): data.checksum,
        tag("model"): config.model_name,
        tag("size"): config.size,
        tag("seed"): config.seed,
        tag("learning_task"): config.learning_task,
        tag("command"): command_for(config),
        tag("num_parameters"): num_parameters,
        tag("learnable"): learnable,
        tag("world_size"): context.world_size,
        **environment_tags(device),
        **(tags or {}),
    }
    name = run_name or f"{config.model_name}-{config.size}-{config.task}-s{config.seed}"
    run: TrackedRun | SilentRun | None = None
    if context.is_main:  # only rank 0 talks to MLflow; the others learn its run id
        run = TrackedRun(
            config.task,
            tracking_uri=tracking_uri,
            run_name=name,
            nested=nested,
            tags={k: str(v) for k, v in run_tags.items()},
            run_id=resume_run_id,
        )
    run_id = broadcast_from_main(run.run_id if run is not None else None, context)
    if run is None:
        run = SilentRun(run_id)
    with run:
        out_dir = Path(out_dir) if out_dir is not None else runs_dir() / "train" / run.run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        run.set_tags({tag("out_dir"): str(out_dir.resolve()), tag("status"): "RUNNING"})
        run.log_params(config.model_dump(mode="json"))
        run.log_params({"resolved_model": model.config.model_dump(mode="json")})
        if context.is_main:
            write_run_record(out_dir, run.run_id, config)
        loop = TrainingLoop(
            config, model, data, device, run, out_dir, trial, progress, learnable, context
        )
        if resume and (out_dir / STATE_FILE).exists():  # else: killed before its first checkpoint
            loop.restore()
        try:
            loop.run()
        except TrainingDivergedError as err:
            message = f"{config.model_name} on {config.task}: {err}; the run is marked FAILED"
            print(f"roma-bench train: {message}", file=sys.stderr)
            run.set_tags({tag("status"): "FAILED", tag("failure"): str(err)})
            run.finish("FAILED")
            return loop.result(run.run_id, "FAILED", started, num_parameters, message)
        test_metrics: dict[str, float] = {}
        if config.evaluate_test and context.is_main:
            test_metrics = loop.test_and_plot(name)
        status_tags = loop.resource_tags(started)
        run.set_tags({**status_tags, tag("status"): "FINISHED"})
        run.log_artifact(out_dir / MODEL_FILE, "checkpoint")
        run.finish("FINISHED")
        result = loop.result(run.run_id, "FINISHED", started, num_parameters)
        result.metrics = test_metrics
        return result
