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

import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from roma_bench.checkpoint_format import read_checkpoint
from roma_bench.config import ConfigError
from roma_bench.models.base import load_checkpoint
from roma_bench.paths import runs_dir
from roma_bench.registry import build_model, get_model_class
from roma_bench.tracking.environment import environment_tags, git_commit, reset_cpu_peak_memory
from roma_bench.tracking.runs import TrackedRun, resolve_tracking_uri
from roma_bench.tracking.tags import tag
from roma_bench.training import data as task_data
from roma_bench.training import unfinished
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
    resumable: bool = False,
) -> TrainResult:
    """Train ``config.model_name`` on ``config.task`` in one MLflow run; see the module docstring.

    ``trial`` (an ``optuna.Trial``) receives the validation loss at each validation and
    prunes the run (``optuna.TrialPruned`` is raised, the MLflow run is marked KILLED with
    tag ``roma.status=PRUNED``). ``resume=True`` continues from ``out_dir/last.safetensors``.

    Under ``torchrun`` (``WORLD_SIZE > 1``) every rank calls this; see
    :mod:`roma_bench.training.distributed`. Ranks other than 0 return a result without test
    metrics; ``out_dir`` must then be on a file system every rank sees for ``resume``.

    ``resumable=True`` (a run of a board, study or budget check; not for a sweep's trial, an
    explicit ``out_dir`` or ``resume``, or under torchrun, where it is ignored): continue the
    interrupted run of this same configuration and store when there is one, see
    :mod:`roma_bench.training.unfinished`.
    """
    options = RunOptions(tracking_uri, run_name, nested, tags, trial, progress, resume, out_dir)
    if not (resumable and out_dir is None and not resume and trial is None
            and int(os.environ.get("WORLD_SIZE", "1")) == 1):  # fmt: skip
        return _train_on_device(config, options)
    uri = resolve_tracking_uri(tracking_uri)
    with unfinished.claim(config, uri) as held:
        if held is not None and held.folder is not None and unfinished.reopenable(held.folder, uri):
            options = _continuing(config, options, held)
        result = _train_on_device(config, replace(options, claim=held))
        if held is not None:  # finished or failed: either way nothing is left to continue
            held.release()
        return result


def _continuing(config: TrainConfig, options: RunOptions, held: unfinished.Claim) -> RunOptions:
    """``options`` that continue ``held.folder``; says so, and warns when the code changed
    since the run started (tag ``started_at_commit``, see :mod:`~roma_bench.training.unfinished`)."""
    print(f"{config.model_name} on {config.task} (seed {config.seed}): continuing the "
          f"interrupted run in {held.folder}", file=sys.stderr)  # fmt: skip
    now = git_commit()
    if held.commit and held.commit.removesuffix("-dirty") != now.removesuffix("-dirty"):
        print(f"warning: that run started at commit {held.commit[:12]}, the code now is at "
              f"{now[:12]}: its weights come from both", file=sys.stderr)  # fmt: skip
    tags = {**(options.tags or {}), tag("started_at_commit"): held.commit or "unknown"}
    return replace(options, resume=True, out_dir=held.folder, tags=tags)


def _train_on_device(config: TrainConfig, options: RunOptions) -> TrainResult:
    """:func:`train` once its options are settled: the device and process group around it."""
    started = time.perf_counter()
    device = resolve_device(config.device)
    context, device = init_distributed(device)  # torchrun: join the group, cuda:LOCAL_RANK
    try:
        return _train(config, options, _Where(device, context, started))
    finally:
        shutdown_distributed(context)


@dataclass(frozen=True)
class RunOptions:
    """How :func:`train` runs: ``train``'s keyword arguments (see there)."""

    tracking_uri: str | None = None
    run_name: str | None = None
    nested: bool = False
    tags: dict | None = None
    trial: Any = None
    progress: bool = True
    resume: bool = False
    out_dir: Path | None = None
    #: Where a resumable run registers its folder (:mod:`roma_bench.training.unfinished`).
    claim: unfinished.Claim | None = None


@dataclass(frozen=True)
class _Where:
    """The device, the process group (one process outside torchrun) and the start time."""

    device: torch.device
    context: DistributedContext
    started: float


def _train(config: TrainConfig, options: RunOptions, where: _Where) -> TrainResult:
    """Check, open the data, build the model, open the run, fit, test: one training."""
    resume_run_id = None
    if options.resume:
        if options.out_dir is None:
            raise ConfigError("resume needs the run folder (out_dir) holding last.safetensors")
        resume_run_id = resume_run_id_of(Path(options.out_dir))
    # The whole configuration, the model's included, is checked before any data is opened.
    get_model_class(config.model_name).make_config(None, config.size, config.model)
    if config.init_checkpoint:  # exists, is no pickle, is not damaged: before any data work
        read_checkpoint(config.init_checkpoint, tensors=False)
    data = task_data.open_task_data(config.task, config.learning_task, seed=config.seed,
                                    noise=config.noise, progress=options.progress,
                                    train_nodes=config.train_nodes)  # fmt: skip
    model = _build_model(config, data.spec, where.device)
    name = options.run_name or f"{config.model_name}-{config.size}-{config.task}-s{config.seed}"
    run = _open_run(config, data, model, name, options, where, resume_run_id)
    with run:
        return _fit(config, data, model, name, run, options, where)


def _build_model(config: TrainConfig, spec: Any, device: torch.device) -> Any:
    """The seeded model (``init_checkpoint``'s weights when given) on ``device``; the peak
    memory counters start here."""
    seed_everything(config.seed)
    model = build_model(config.model_name, spec, config.size, config.model)
    if config.init_checkpoint:
        _load_init_weights(model, config.init_checkpoint)
    model.to(device)
    reset_cpu_peak_memory()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    return model


def _learnable(model: Any) -> bool:
    return bool(getattr(model, "learnable", True)) and model.num_parameters() > 0


def _open_run(
    config: TrainConfig,
    data: Any,
    model: Any,
    name: str,
    options: RunOptions,
    where: _Where,
    resume_run_id: str | None,
) -> TrackedRun | SilentRun:
    """Rank 0 opens (or, resuming, reopens) the MLflow run with the harness's tags; the
    other ranks get a :class:`SilentRun` with its id."""
    context = where.context
    run_tags = {
        tag("task"): data.spec.name,
        tag("task_version"): data.version,
        tag("data_checksum"): data.checksum,
        tag("model"): config.model_name,
        tag("size"): config.size,
        tag("seed"): config.seed,
        tag("learning_task"): config.learning_task,
        tag("command"): command_for(config),
        tag("num_parameters"): model.num_parameters(),
        tag("learnable"): _learnable(model),
        tag("world_size"): context.world_size,
        **environment_tags(where.device),
        **(options.tags or {}),
    }
    run: TrackedRun | None = None
    if context.is_main:  # only rank 0 talks to MLflow; the others learn its run id
        run = TrackedRun(
            config.task,
            tracking_uri=options.tracking_uri,
            run_name=name,
            nested=options.nested,
            tags={k: str(v) for k, v in run_tags.items()},
            run_id=resume_run_id,
        )
    run_id = broadcast_from_main(run.run_id if run is not None else None, context)
    return run if run is not None else SilentRun(run_id)


def _fit(
    config: TrainConfig,
    data: Any,
    model: Any,
    name: str,
    run: TrackedRun | SilentRun,
    options: RunOptions,
    where: _Where,
) -> TrainResult:
    """Inside the open run: the training loop, then test metrics, plots and the checkpoint."""
    context, started, num_parameters = where.context, where.started, model.num_parameters()
    out_dir = Path(options.out_dir) if options.out_dir is not None else None
    out_dir = out_dir or runs_dir() / "train" / run.run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    run.set_tags({tag("out_dir"): str(out_dir.resolve()), tag("status"): "RUNNING"})
    run.log_params(config.model_dump(mode="json"))
    run.log_params({"resolved_model": model.config.model_dump(mode="json")})
    if context.is_main:
        write_run_record(out_dir, run.run_id, config)
    if options.claim is not None:  # from here on a killed run can be continued
        options.claim.register(out_dir)
    loop = TrainingLoop(config, model, data, where.device, run, out_dir, options.trial,
                        options.progress, _learnable(model), context)  # fmt: skip
    if options.resume and (out_dir / STATE_FILE).exists():  # else: killed before 1st checkpoint
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
