"""``roma-bench`` command line: a thin layer over library functions.

Each module in this package that defines ``register(subparsers)`` adds one
subcommand (sorted by its ``ORDER``); the subcommand's handler is stored as the
parser default ``handler`` and returns an exit code. Handlers import heavy
libraries lazily so ``roma-bench --help`` stays fast.

Every expected failure ends in :func:`main` as one line on stderr and an exit code
(2: bad input, 1: a fault found while working, 130: Ctrl-C; see
:func:`roma_bench.errors.classify`); ``--debug`` prints the traceback as well.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from roma_bench import __version__
from roma_bench.errors import InputError, classify


class UsageError(InputError):
    """A bad command-line value; printed as one line naming the argument, exit code 2."""


DEBUG_HELP = "on an error, print the full traceback as well as the one-line message"


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage dump), exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="roma-bench",
        description=(
            "Benchmark suite for learned dynamics on graphs: generate Kuramoto and social-"
            "dynamics tasks, train ROMA and baselines, track runs in MLflow, run Optuna "
            "sweeps and publish leaderboards."
        ),
        epilog="Run 'roma-bench COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"roma-bench {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "register"):
            modules.append(module)
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        module.register(subparsers)
    for sub in subparsers.choices.values():  # `roma-bench CMD ... --debug` works too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``roma-bench`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt as err:
        if args.debug:
            traceback.print_exc()
        detail = f": {err}" if str(err) else ""
        print(f"roma-bench {args.command}: interrupted{detail}", file=sys.stderr)
        return 130
    except Exception as err:
        verdict = classify(err)
        if verdict is None:  # not an expected failure: a bug, keep its traceback
            raise
        if args.debug:
            traceback.print_exc()
        code, line = verdict
        print(f"roma-bench {args.command}: error: {line}", file=sys.stderr)
        _survive_failed_hdf5_write(err, code)
        return code


_KEPT_ALIVE: list[BaseException] = []


def _survive_failed_hdf5_write(err: BaseException, code: int) -> None:
    """Keep HDF5 from crashing the process after a failed write (e.g. a full disk).

    HDF5 (through h5py) segfaults when it frees the objects of a file whose write or
    close failed, which turned a clean "no space left" into exit 139. When the failure
    came out of h5py, its objects (held by the traceback) are kept alive, and the process
    leaves with ``code`` right after the other output is flushed, never freeing them.
    What was written is already on disk: the partial store and its checkpoint.
    """
    import atexit
    import os

    seen, chain = set(), err
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        frames = traceback.extract_tb(chain.__traceback__)
        if any(f"{os.sep}h5py{os.sep}" in frame.filename for frame in frames):
            _KEPT_ALIVE.append(err)

            def leave() -> None:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

            atexit.register(leave)
            return
        chain = chain.__cause__ or chain.__context__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
