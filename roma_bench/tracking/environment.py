"""What every tracked run records about where it ran: versions, git commit, hardware, memory."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

import torch

from roma_bench.graphs.ops import dgl_supports
from roma_bench.versions import installed_versions


def git_commit(cwd: str | Path | None = None) -> str:
    """``git rev-parse HEAD`` of the checkout (plus ``-dirty`` with local changes), or ``unknown``."""
    root = Path(cwd) if cwd is not None else Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        suffix = "-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else ""
        return commit.stdout.strip() + suffix
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def device_name(device: torch.device) -> str:
    """A human name of ``device``: the GPU model, or the CPU model and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def reset_cpu_peak_memory() -> bool:
    """Reset this process's peak resident memory (Linux ``VmHWM``) to the current one.

    Writes ``5`` to ``/proc/self/clear_refs``; returns False where that is unsupported
    (then :func:`cpu_peak_memory_mb` reports the peak since the process started).
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def cpu_peak_memory_mb() -> float:
    """Peak resident memory of this process since the last reset, in MiB (``VmHWM``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / 2**20


def gpu_peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated on ``device`` since the last reset, in MiB (0 on CPU)."""
    if device.type != "cuda":
        return 0.0
    return torch.cuda.max_memory_allocated(device) / 2**20


def environment() -> dict:
    """Versions and devices, as logged with every tracked run."""
    versions = installed_versions(
        (
            "roma-bench",
            "torch",
            "dgl",
            "neuraloperator",
            "optuna",
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


def environment_tags(device: torch.device) -> dict[str, str]:
    """Tags for a run: package versions, python, platform, git commit and device name."""
    env = environment()
    tags = {f"version.{name}": str(version) for name, version in env["versions"].items()}
    tags.update(
        {
            "python": env["python"],
            "platform": env["platform"],
            "git_commit": git_commit(),
            "device": str(device),
            "device_name": device_name(device),
            "hardware": device_name(device),
            "dgl_cuda": str(env["dgl_cuda"]),
        }
    )
    return tags
