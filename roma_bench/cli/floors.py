"""``roma-bench verify --floors TASK``: the headroom of a task (floors on its test split).

No subcommand of its own: :mod:`roma_bench.cli.generate` adds the options to ``verify``
and calls :func:`run_floors`; the numbers come from
:func:`roma_bench.training.headroom.floor_scores`.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--floors``, ``--split`` and ``--json`` of ``roma-bench verify``."""
    parser.add_argument(
        "--floors",
        action="store_true",
        help="FILE is a task: print persistence, linear, ar and oracle on its test split "
        "(primary metric, sMSPE, nRMSE, rollout nRMSE at 1/4/16 frames, ratio to persistence)",
    )
    parser.add_argument(
        "--split", choices=["val", "test"], default="test", help="with --floors (default test)"
    )
    parser.add_argument("--json", action="store_true", help="with --floors: print JSON")


def run_floors(args: argparse.Namespace, stream=None) -> int:
    """Print the floors of task ``args.file`` on ``args.split`` as a table or JSON."""
    from roma_bench.training.headroom import floor_scores

    stream = stream or sys.stdout
    headroom = floor_scores(args.file, split=args.split, progress=not args.quiet)
    if args.json:
        print(json.dumps(headroom.to_dict(), indent=2), file=stream)
        return 0
    print(
        f"Floors of {headroom.task} v{headroom.version} on the {headroom.split} split "
        f"(data {headroom.checksum[:12]}…; lower is better; sMSPE is the ROMA paper's metric):",
        file=stream,
    )
    print("", file=stream)
    print(headroom.table(), file=stream)
    return 0
