"""``roma-bench train``: one tracked training run (then its test scores)."""

from __future__ import annotations

import argparse
import sys

from roma_bench.cli.options import add_set_argument
from roma_bench.limits import seed_arg, steps_arg

ORDER = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model on a task (tracked in MLflow), then score it on the test split",
        description="Train MODEL on TASK with AdamW (warm-up + cosine decay), validation on the "
        "held-out subgraph, early stopping and checkpoints; the run (config, metrics, "
        "environment, plots, checkpoint) is tracked in MLflow. The task's data is generated "
        "first when missing. Default store: SQLite at ./runs/mlflow.db. Under `torchrun "
        "--nproc_per_node N -m roma_bench train ...` it trains data-parallel (DDP; gloo on CPU, "
        "NCCL on CUDA): rank r takes batch s·N + r at step s, rank 0 alone logs and writes.",
    )
    parser.add_argument("--model", help="registered model name (see `roma-bench info`)")
    parser.add_argument("--task", help="task card name, e.g. km-tiny")
    parser.add_argument("--size", help="model size preset (default tiny)")
    parser.add_argument(
        "--seed", type=seed_arg, help="seed of initialisation and sampling (default 0)"
    )
    parser.add_argument("--steps", type=steps_arg, help="optimizer steps (default 300)")
    parser.add_argument("--learning-task", choices=["forecast", "effective"])
    parser.add_argument("--config", metavar="FILE", help="YAML TrainConfig (flags override it)")
    add_set_argument(parser, "override a config field, e.g. optim.lr=3e-4")
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default sqlite runs/mlflow.db)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--resume", metavar="RUN_OR_DIR",
                        help="continue a killed run (its folder or MLflow run id)")  # fmt: skip
    parser.add_argument("--out", metavar="DIR", help="run folder (default runs/train/<run id>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def print_result(result, stream=None) -> None:
    stream = stream or sys.stdout
    print(f"run {result.run_id}: {result.status} after {result.steps_done} steps "
          f"({result.wall_time:.1f} s, {result.num_parameters:,} parameters)", file=stream)  # fmt: skip
    if result.message:
        print(f"  {result.message}", file=stream)
    if result.best_val_loss == result.best_val_loss and result.best_val_loss != float("inf"):
        print(f"  best val_loss {result.best_val_loss:.5g}", file=stream)
    for name, value in sorted(result.metrics.items()):
        print(f"  test {name:<24} {value:.5g}", file=stream)
    if result.checkpoint is not None and result.checkpoint.is_file():
        print(f"  checkpoint {result.checkpoint}", file=stream)
    else:
        print("  checkpoint none (the run stopped before its first validation)", file=stream)
    if result.out_dir is not None and (result.out_dir / "plots").is_dir():
        print(f"  plots      {result.out_dir / 'plots'}", file=stream)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from roma_bench.cli import UsageError
    from roma_bench.tracking.runs import resolve_tracking_uri
    from roma_bench.training.fit import train
    from roma_bench.training.resolve import build_train_config, resume_config, run_folder

    out_dir = Path(args.out) if args.out else None
    if args.resume:
        given = [
            f for f in ("model", "task", "size", "seed", "steps", "config") if getattr(args, f)
        ]
        if given or args.overrides:
            raise UsageError("--resume continues a run with its own config; drop "
                             + ", ".join(f"--{f}" for f in given or ["set"]))  # fmt: skip
        out_dir = run_folder(args.resume, args.tracking_uri)
        config = resume_config(out_dir)
        if args.device:
            config = config.model_copy(update={"device": args.device})
    else:
        fields = {
            "model_name": args.model, "task": args.task, "size": args.size, "seed": args.seed,
            "steps": args.steps, "learning_task": args.learning_task, "device": args.device,
        }  # fmt: skip
        config = build_train_config(args.config, fields, args.overrides)
    uri = resolve_tracking_uri(args.tracking_uri)
    result = train(config, tracking_uri=uri, progress=not args.quiet,
                   resume=bool(args.resume), out_dir=out_dir)  # fmt: skip
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 reports for the job
        return 0 if result.status == "FINISHED" else 1
    print_result(result)
    print(f"  tracking   {uri} (experiment {config.task})")
    return 0 if result.status == "FINISHED" else 1
