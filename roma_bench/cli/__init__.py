"""``roma-bench`` command line: a thin layer over library functions.

Each module in this package that defines ``register(subparsers)`` adds one
subcommand (sorted by its ``ORDER``); the subcommand's handler is stored as the
parser default ``handler`` and returns an exit code. Handlers import heavy
libraries lazily so ``roma-bench --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from roma_bench import __version__


class UsageError(ValueError):
    """A bad command-line value; printed as one line naming the argument, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roma-bench",
        description=(
            "Benchmark suite for learned dynamics on graphs: generate Kuramoto and social-"
            "dynamics tasks, train ROMA and baselines, track runs in MLflow, run Optuna "
            "sweeps and publish leaderboards."
        ),
        epilog="Run 'roma-bench COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"roma-bench {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roma-bench`` console script; returns the exit code."""
    from roma_bench.config import ConfigError
    from roma_bench.registry import RegistryError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UsageError, ConfigError, RegistryError) as err:
        print(f"roma-bench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except FileNotFoundError as err:
        print(f"roma-bench {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"roma-bench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
