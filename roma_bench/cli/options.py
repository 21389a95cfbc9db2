"""Options shared by commands that build a base :class:`TrainConfig` (``sweep``, ``study``)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roma_bench.limits import seed_arg, steps_arg


def add_base_config_arguments(
    parser: argparse.ArgumentParser,
    *,
    model_required: bool,
    steps_help: str = "training steps per run",
) -> None:
    """The options that make the base :class:`TrainConfig` (shared with ``roma-bench study``)."""
    parser.add_argument("--task", required=True, help="task card name, e.g. km-tiny")
    if model_required:
        parser.add_argument("--model", help="registered model name (or give --config)")
    parser.add_argument("--config", type=Path, help="a TrainConfig YAML to start from")
    parser.add_argument("--size", help="model size preset (default tiny)")
    parser.add_argument("--seed", type=seed_arg, help="training seed (default 0)")
    parser.add_argument("--steps", type=steps_arg, help=steps_help)
    add_set_argument(parser, "override any TrainConfig field, e.g. --set optim.lr=3e-4")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: local SQLite store)")


def add_set_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """``--set KEY=VALUE`` (repeatable) into ``args.overrides``
    (:func:`roma_bench.config.parse_overrides` reads them)."""
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help=f"{help} (repeatable)")  # fmt: skip


def base_config(args: argparse.Namespace, model: str | None, defaults: Sequence[str] = ()) -> Any:
    """The validated base TrainConfig from ``defaults`` (``--set`` syntax, beneath the rest),
    ``--config``, the flags and ``--set``
    (:func:`roma_bench.training.resolve.build_train_config`, the one way to build one)."""
    from roma_bench.training.resolve import build_train_config

    fields = {"task": args.task, "model_name": model, "size": getattr(args, "size", None),
              "seed": getattr(args, "seed", None), "steps": getattr(args, "steps", None)}  # fmt: skip
    return build_train_config(args.config, fields, args.overrides, defaults)
