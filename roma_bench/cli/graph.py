"""``roma-bench graph``: build a hyperbolic random graph and print its statistics."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

from roma_bench.limits import seed_arg

ORDER = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "graph",
        help="generate a hyperbolic random graph and print its statistics",
        description="Generate a hyperbolic random graph (NetworKit), keep its largest connected "
        "component with NODES nodes, detect communities (PLM), convert it to a DGLGraph and "
        "print nodes, undirected edges, mean degree, the fitted degree-tail exponent, "
        "communities, modularity, seconds and peak memory.",
    )
    parser.add_argument(
        "--nodes",
        type=int,
        required=True,
        help="nodes of the final graph, in [1, 1e8]; --avg-degree must stay below NODES - 1",
    )
    parser.add_argument(
        "--avg-degree", type=float, default=3.0, help="average degree of the model (default 3)"
    )
    parser.add_argument(
        "--gamma", type=float, default=3.0, help="power-law exponent, >= 2.01 (default 3.0)"
    )
    parser.add_argument(
        "--temperature", type=float, default=0.0, help="temperature in [0, 1) (default 0)"
    )
    parser.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def peak_memory_mb() -> float:
    """Peak resident memory of this process in MiB (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def run(args: argparse.Namespace) -> int:
    from roma_bench.cli import UsageError
    from roma_bench.graphs.hyperbolic import validate_hyperbolic_args

    try:
        validate_hyperbolic_args(args.nodes, args.avg_degree, args.gamma, args.temperature)
    except ValueError as err:
        message = str(err).replace("avg_degree", "--avg-degree", 1)
        for name in ("nodes", "gamma", "temperature"):
            if message.startswith(name):
                message = "--" + message
        raise UsageError(message) from None

    from roma_bench.graphs.hyperbolic import hyperbolic_graph
    from roma_bench.graphs.stats import graph_statistics

    start = time.perf_counter()
    graph = hyperbolic_graph(
        args.nodes,
        avg_degree=args.avg_degree,
        gamma=args.gamma,
        temperature=args.temperature,
        seed=args.seed,
    )
    stats = graph_statistics(graph)
    stats["seconds"] = round(time.perf_counter() - start, 3)
    stats["peak_mb"] = round(peak_memory_mb(), 1)
    if args.json:
        print(json.dumps(stats))
        return 0
    print(
        f"hyperbolic graph (avg_degree={args.avg_degree}, gamma={args.gamma}, "
        f"temperature={args.temperature}, seed={args.seed})"
    )
    print(f"  nodes        {stats['nodes']}")
    print(f"  edges        {stats['edges']} (undirected)")
    print(f"  mean degree  {stats['mean_degree']:.3f} (max {stats['max_degree']})")
    print(f"  gamma        {stats['gamma']:.3f} (degree tail k >= {stats['xmin']})")
    print(f"  communities  {stats['communities']} (modularity {stats['modularity']:.3f})")
    print(f"  seconds      {stats['seconds']:.2f}")
    print(f"  peak memory  {stats['peak_mb']:.0f} MB")
    return 0
