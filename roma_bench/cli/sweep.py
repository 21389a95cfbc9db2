"""``roma-bench sweep``: Optuna hyperparameter search for one model on one task."""

from __future__ import annotations

import argparse
from pathlib import Path

from roma_bench.cli.options import add_base_config_arguments, base_config
from roma_bench.limits import COUNT_MAX, seed_arg

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="tune a model's hyperparameters with Optuna (TPE, median pruning)",
        description=(
            "Run Optuna trials for one model on one task: each trial trains with suggested "
            "learning rate, weight decay and model knobs and is tracked as a nested MLflow run "
            "under one parent sweep run. Start the same command in several processes (or "
            "machines, with --storage postgresql://...) to run workers in parallel; together "
            "they run exactly --n-trials trials. The best configuration is written as a YAML "
            "file that `roma-bench train --config FILE` accepts."
        ),
    )
    add_base_config_arguments(parser, model_required=True)
    parser.add_argument("--n-trials", type=int, required=True, help="total trials of the study")
    parser.add_argument(
        "--storage",
        help="journal file path or SQLAlchemy URL (postgresql://...); "
        "default: <runs>/sweeps/<study>.journal",
    )
    parser.add_argument("--study-name", help="default: <model>-<task>-<size>-seed<seed>")
    parser.add_argument("--timeout", type=float, help="stop starting trials after S seconds")
    parser.add_argument(
        "--sampler-seed", type=seed_arg, help="TPE seed (default: the training seed)"
    )
    parser.add_argument(
        "--export", type=Path, help="best-config YAML (default <runs>/sweeps/<study>-best.yaml)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from roma_bench.cli import UsageError
    from roma_bench.registry import get_model_class
    from roma_bench.sweeps.runner import SweepSettings, run_sweep
    from roma_bench.sweeps.storage import storage_kind
    from roma_bench.tracking.runs import resolve_tracking_uri

    if args.n_trials < 1:
        raise UsageError(f"--n-trials: must be at least 1 (got {args.n_trials})")
    if args.n_trials > COUNT_MAX:
        raise UsageError(f"--n-trials: must be at most {COUNT_MAX} (got {args.n_trials})")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError(f"--timeout: must be positive (got {args.timeout})")
    if args.storage:
        try:
            storage_kind(args.storage)
        except ValueError as err:
            raise UsageError(str(err)) from None
    config = base_config(args, args.model)
    get_model_class(config.model_name)  # unknown model → one clear line
    settings = SweepSettings(
        storage=args.storage,
        study_name=args.study_name,
        timeout=args.timeout,
        sweep_seed=args.sampler_seed,
        tracking_uri=resolve_tracking_uri(args.tracking_uri),
        export_path=args.export,
    )
    result = run_sweep(config, args.n_trials, settings)
    worker = result.worker
    print(
        f"study {result.study_name} ({result.storage}): {result.n_finished} finished trials; "
        f"this worker: {len(worker.completed)} complete, {len(worker.pruned)} pruned, "
        f"{len(worker.failed)} failed"
        + (f", {len(worker.reaped)} abandoned trials re-queued" if worker.reaped else "")
    )
    if result.best_trial is None:
        print("no trial completed; nothing exported")
        return 1
    print(f"best trial {result.best_trial}: validation loss {result.best_value:.6g}")
    print(f"best config: {result.best_config_path}")
    print(f"reproduce:   roma-bench train --config {result.best_config_path}")
    return 0
