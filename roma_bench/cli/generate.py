"""``roma-bench generate TASK`` and ``roma-bench verify FILE``: make and check task stores.

``roma-bench verify --floors TASK`` prints the task's headroom instead (:mod:`.floors`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from roma_bench.cli import UsageError, floors

ORDER = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="simulate a task card into a checksummed HDF5 store",
        description="Simulate the task card TASK (a name from tasks/ or a path to a YAML card) "
        "into <data>/<task>.h5 (ROMA_BENCH_DATA, default ./data). Progress is checkpointed "
        "after every block of frames; a killed run continues with --resume and ends "
        "bit-identical to an uninterrupted one. The output file is locked (<file>.lock) while "
        "it is generated: a second process on the same file waits. An existing store is "
        "called up to date only after its header, completeness and every checksum verify.",
    )
    gen.add_argument("task", metavar="TASK", help="task name (e.g. km-tiny) or card path")
    gen.add_argument(
        "--out",
        metavar="PATH",
        help="output folder (the file is <PATH>/<task>.h5) or a file path ending in .h5",
    )
    gen.add_argument("--resume", action="store_true", help="continue an interrupted generation")
    gen.add_argument(
        "--force", action="store_true", help="overwrite an existing store or partial file"
    )
    gen.add_argument("--quiet", action="store_true", help="no progress bar")
    gen.set_defaults(handler=run_generate)

    ver = subparsers.add_parser(
        "verify",
        help="recompute every checksum of a task store",
        description="Recompute the SHA-256 of every array in FILE and compare with the stored "
        "ones; exit 1 with the damaged arrays/frames named on any mismatch, truncation or "
        "missing array, 2 if FILE does not exist, 0 if the store is intact. With --floors FILE "
        "is a task name and the command prints the reference floors on its held-out test split "
        "(its headroom).",
    )
    ver.add_argument("file", metavar="FILE", help="a task store (.h5) or a task name")
    ver.add_argument("--quiet", action="store_true", help="no progress bar")
    floors.add_arguments(ver)
    ver.set_defaults(handler=run_verify)


def output_path(task: str, out: str | None) -> Path:
    """``--out`` as a file path: ``<out>`` if it ends in .h5/.hdf5, else ``<out>/<task>.h5``."""
    from roma_bench.paths import task_data_path

    if out is None:
        return task_data_path(task)
    path = Path(out)
    if path.suffix in {".h5", ".hdf5"}:
        return path
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder (give a folder or a .h5 path)")
    return path / f"{task}.h5"


def run_generate(args: argparse.Namespace) -> int:
    from roma_bench.cards import load_card
    from roma_bench.data.generation import GenerationInterrupted, generate_task
    from roma_bench.data.store import StoreError

    if args.resume and args.force:
        raise UsageError("--resume and --force exclude each other")
    card = load_card(args.task)
    out = output_path(card.name, args.out)
    existed = out.exists()
    try:
        path = generate_task(
            card, out, resume=args.resume, progress=not args.quiet, force=args.force
        )
    except FileExistsError as err:
        raise UsageError(str(err)) from None
    except GenerationInterrupted as err:
        print(f"roma-bench generate: {err}", file=sys.stderr)
        return 130
    except StoreError as err:
        print(f"roma-bench generate: error: {err}", file=sys.stderr)
        return 1
    if existed and not args.force:
        print(f"{path} is up to date (generated from the same card); use --force to regenerate")
    else:
        from roma_bench.data.store import TaskStore

        with TaskStore(path) as store:
            print(
                f"{path}: {store.num_nodes} nodes × {store.num_frames} frames, "
                f"checksum {store.checksum}"
            )
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from roma_bench.data.store import StoreError, TaskStore, verify_store

    floors.check_arguments(args)
    if args.floors:
        return floors.run_floors(args)

    path = Path(args.file)
    if not path.exists() and path.suffix not in {".h5", ".hdf5"}:
        from roma_bench.paths import task_data_path

        path = task_data_path(args.file)
    if not path.exists():  # a path the user named: bad input, exit 2
        from roma_bench.errors import MissingPathError

        raise MissingPathError(f"{path}: no such file")
    try:
        verify_store(path, progress=not args.quiet)
        with TaskStore(path) as store:
            summary = (
                f"{store.card.name} v{store.version}, {store.num_nodes} nodes × "
                f"{store.num_frames} frames, checksum {store.checksum}"
            )
    except StoreError as err:
        print(f"roma-bench verify: {err}", file=sys.stderr)
        return 1
    print(f"{path}: OK ({summary})")
    return 0
