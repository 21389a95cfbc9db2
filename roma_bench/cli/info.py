"""``roma-bench info``: package versions, devices and what is registered."""

from __future__ import annotations

import argparse
import json

ORDER = 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="print package versions, devices and registered models and tasks",
        description="Print package versions (torch, dgl, neuralop, optuna, mlflow), the devices "
        "torch and DGL can use, every registered model and task, and the unfinished runs of "
        "the runs folder (ROMA_BENCH_RUNS): runs of boards, studies and budget checks that a "
        "rerun of their command continues from their last checkpoint.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from roma_bench.registry import available_models, available_tasks
    from roma_bench.tracking.environment import environment
    from roma_bench.training.unfinished import unfinished_runs

    info = environment()
    info["models"] = available_models()
    info["tasks"] = available_tasks()
    unfinished = unfinished_runs()
    info["unfinished_runs"] = [
        {**vars(run), "folder": str(run.folder)} for run in unfinished
    ]  # fmt: skip
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"python {info['python']} on {info['platform']}")
    for name, version in info["versions"].items():
        print(f"  {name:<20} {version or 'not installed'}")
    print(f"torch devices: {', '.join(info['torch_devices'])}")
    print(
        f"DGL kernels on CUDA: {'yes' if info['dgl_cuda'] else 'no (CPU build; torch dispatch on GPU)'}"
    )
    print(f"models ({len(info['models'])}): {', '.join(info['models']) or '(none)'}")
    print(f"tasks ({len(info['tasks'])}): {', '.join(info['tasks']) or '(none)'}")
    if unfinished:
        print(f"unfinished runs ({len(unfinished)}; a rerun of their command continues them):")
        for run in unfinished:
            print(f"  {run.describe()}")
    return 0
