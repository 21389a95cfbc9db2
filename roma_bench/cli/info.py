"""``roma-bench info``: package versions, devices and what is registered."""

from __future__ import annotations

import argparse
import json
import platform

ORDER = 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="print package versions, devices and registered models and tasks",
        description="Print package versions (torch, dgl, neuralop, optuna, mlflow), the devices "
        "torch and DGL can use, and every registered model and task.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def environment() -> dict:
    """Versions and devices, as logged with every tracked run."""
    import torch

    from roma_bench.graphs.ops import dgl_supports
    from roma_bench.versions import installed_versions

    versions = installed_versions(
        (
            "roma-bench",
            "torch",
            "dgl",
            "neuraloperator",
            "optuna",
            "optuna-integration",
            "mlflow",
            "networkit",
            "numpy",
            "pandas",
            "h5py",
            "pydantic",
        )
    )
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [
            f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())
        ]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
        "torch_devices": devices,
        "dgl_cuda": dgl_supports("cuda"),
    }


def run(args: argparse.Namespace) -> int:
    from roma_bench.registry import available_models, available_tasks

    info = environment()
    info["models"] = available_models()
    info["tasks"] = available_tasks()
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
    return 0
