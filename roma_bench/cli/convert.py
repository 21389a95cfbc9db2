"""``roma-bench convert-checkpoint``: rewrite a trusted pickled ``.pt`` checkpoint safely."""

from __future__ import annotations

import argparse

ORDER = 22


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert-checkpoint",
        help="convert a trusted pickled .pt checkpoint of an older version to .safetensors",
        description="Checkpoints are safetensors files with JSON metadata; pickled .pt files "
        "written by older versions are refused because unpickling can run code (torch 2.2.1's "
        "weights-only loader has a known bypass, CVE-2025-32434). This command unpickles one "
        "such file (with torch.load(weights_only=True)) and writes it in the new format. Use "
        "it only on files whose origin you trust: --trust is required.",
    )
    parser.add_argument("source", metavar="PATH", help="the pickled checkpoint (last.pt, model.pt)")
    parser.add_argument(
        "--out", metavar="PATH", help="where to write (default: PATH with suffix .safetensors)"
    )
    parser.add_argument(
        "--trust", action="store_true", help="I trust this file's origin (required)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from roma_bench.checkpoint_format import convert_legacy_checkpoint

    target = convert_legacy_checkpoint(args.source, args.out, trust=args.trust)
    print(f"wrote {target}")
    return 0
