"""``roma-bench models``: parameter count of every registered model at each size for a task.

Models are built on the ``meta`` device (no memory is allocated), so even the 1.1B-parameter
ROMA-H is counted in a fraction of a second.
"""

from __future__ import annotations

import argparse
import json

from roma_bench.cli import UsageError
from roma_bench.cli.options import add_set_argument

ORDER = 40


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list registered models and their parameter counts per size for a task",
        description="Print the parameter count of each registered model at each of its sizes, "
        "built for TASK (on the meta device: nothing is allocated). --set overrides apply to "
        "every model that has the key (e.g. --set dec_width=1536).",
    )
    parser.add_argument("--task", required=True, help="task card name or path (e.g. km-3m)")
    parser.add_argument("--model", action="append", help="only this model (repeatable)")
    parser.add_argument("--size", action="append", help="only this size (repeatable)")
    add_set_argument(parser, "config override applied to the models that have KEY")
    parser.add_argument(
        "--learning-task",
        default="forecast",
        choices=("forecast", "effective"),
        help="learning task the models are built for (default: forecast)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list of {name, size, params}"
    )
    parser.set_defaults(handler=run)


def _spec(task: str, learning_task: str):
    """The :class:`TaskSpec` of a task card (from :func:`roma_bench.data.spec.task_spec`)."""
    from roma_bench.cards import load_card
    from roma_bench.data.spec import task_spec

    return task_spec(load_card(task), learning_task)


def count_parameters(
    task: str,
    models: list[str] | None = None,
    sizes: list[str] | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    learning_task: str = "forecast",
) -> list[dict]:
    """``[{name, size, params}]`` for each registered model (or ``models``) and size.

    ``overrides`` (``key=value``) are applied to a model only if its config has every key;
    a model without them is listed with its plain sizes. Raises :class:`UsageError` for an
    unknown model, size or override key.
    """
    import torch

    from roma_bench.config import parse_overrides
    from roma_bench.registry import available_models, get_model_class

    spec = _spec(task, learning_task)
    names = models or available_models()
    parsed = parse_overrides(overrides) if overrides else {}
    rows, used = [], set()
    for name in names:
        cls = get_model_class(name)
        fields = set(getattr(cls.Config, "model_fields", {}))
        applicable = {k: v for k, v in parsed.items() if k in fields}
        used |= set(applicable)
        for size in sizes or list(cls.SIZES):
            if size not in cls.SIZES:
                if sizes and models:
                    raise UsageError(
                        f"--size {size!r}: model {name!r} has sizes {', '.join(cls.SIZES)}"
                    )
                continue
            with torch.device("meta"):
                model = cls.from_spec(spec, size=size, overrides=applicable)
            rows.append({"name": name, "size": size, "params": int(model.num_parameters())})
    unknown = set(parsed) - used
    if unknown:
        raise UsageError(f"--set: no selected model has the key(s) {', '.join(sorted(unknown))}")
    if sizes and not rows:
        raise UsageError(f"--size: no selected model has size(s) {', '.join(sizes)}")
    return rows


def _human(n: int) -> str:
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def run(args: argparse.Namespace) -> int:
    rows = count_parameters(args.task, args.model, args.size, args.overrides, args.learning_task)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"parameters per model and size for task {args.task}")
    print(f"{'model':<20} {'size':<8} {'params':>14} {'':>9}")
    for row in rows:
        print(f"{row['name']:<20} {row['size']:<8} {row['params']:>14,} {_human(row['params']):>9}")
    return 0
