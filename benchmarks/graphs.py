"""Benchmark: a hyperbolic graph from NetworKit to a DGLGraph with communities and coordinates.

Measures, each in a fresh subprocess (so peak memory is per phase):

- ``ours``: :func:`roma_bench.graphs.hyperbolic_graph` — sampling, NetworKit edges, the
  search for the number of points whose largest component has ``--nodes`` nodes,
  LCC extraction, relabelling, PLM communities and the DGLGraph;
- ``bare``: NetworKit's own ``HyperbolicGenerator(m, k, γ, T).generate()`` for the same
  number of points ``m`` as our final draw (what NetworKit alone needs to produce an
  LCC of that size), and for ``--nodes`` points.

Prints seconds, peak RSS and the overhead ratio ``ours / bare(m)``. Targets (issue 2):
``--nodes 1000000`` ready in < 60 s, < 4 GB peak, overhead ≤ 5×.

    python benchmarks/graphs.py --nodes 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

OURS = """
import json, logging, resource, time
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append((record.msg.split(":")[0], record.args))
logging.getLogger("roma_bench.graphs.hyperbolic").addHandler(Keep())
logging.getLogger("roma_bench.graphs.hyperbolic").setLevel(logging.INFO)
from roma_bench.graphs.hyperbolic import hyperbolic_graph
import networkit, dgl  # imports are not part of the measurement
start = time.perf_counter()
graph = hyperbolic_graph({nodes}, avg_degree={k}, gamma={gamma}, temperature={t}, seed={seed})
seconds = time.perf_counter() - start
print(json.dumps({{
    "seconds": seconds,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "nodes": graph.num_nodes(),
    "edges": graph.num_edges() // 2,
    "communities": int(graph.ndata["community"].max()) + 1,
    "draws": [[int(x) for x in args] for kind, args in records if kind.startswith("draw")],
    "chosen": [[int(x) for x in args] for kind, args in records if kind == "chosen"][-1],
}}))
"""

BARE = """
import json, resource, time
import networkit as nk
nk.setSeed({seed}, False)
start = time.perf_counter()
graph = nk.generators.HyperbolicGenerator({points}, {k}, {gamma}, {t}).generate()
seconds = time.perf_counter() - start
print(json.dumps({{
    "seconds": seconds,
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "edges": graph.numberOfEdges(),
}}))
"""


def measure(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--avg-degree", type=float, default=3.0)
    parser.add_argument("--gamma", type=float, default=3.0)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    params = {"k": args.avg_degree, "gamma": args.gamma, "t": args.temperature, "seed": args.seed}

    ours = measure(OURS.format(nodes=args.nodes, **params))
    points, chosen_lcc = ours["chosen"]
    for attempt, m, size in ours["draws"]:
        print(f"  draw {attempt}: {m} points -> largest component {size} nodes")
    bare_same = measure(BARE.format(points=points, **params))
    bare_nodes = measure(BARE.format(points=args.nodes, **params))
    ratio = ours["seconds"] / bare_same["seconds"]
    print(
        f"  chosen draw: {points} points, largest component {chosen_lcc} (trimmed to --nodes if above)"
    )
    print(
        f"ours:  {ours['nodes']} nodes, {ours['edges']} edges, {ours['communities']} communities "
        f"in {ours['seconds']:.2f} s, peak {ours['peak_mb']:.0f} MB ({len(ours['draws'])} draws)"
    )
    print(
        f"bare NetworKit generate(), {points} points (our final draw): "
        f"{bare_same['seconds']:.2f} s, peak {bare_same['peak_mb']:.0f} MB"
    )
    print(
        f"bare NetworKit generate(), {args.nodes} points: {bare_nodes['seconds']:.2f} s, "
        f"peak {bare_nodes['peak_mb']:.0f} MB"
    )
    print(f"overhead ratio ours / bare({points} points): {ratio:.2f}x")
    print(
        f"overhead ratio ours / bare({args.nodes} points): {ours['seconds'] / bare_nodes['seconds']:.2f}x"
    )
    print(
        json.dumps(
            {"ours": ours, "bare_same_points": bare_same, "bare_nodes": bare_nodes, "ratio": ratio}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
