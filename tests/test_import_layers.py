"""The import contract of DESIGN §2: one direction, at the top of the file, no cycles.

Every module of ``roma_bench`` and ``baselines`` belongs to exactly one layer below (the
most specific prefix wins); a module may import only modules of its own layer or of a
lower one. Imports of the project's own modules sit at the top of the file (a
``try``/``if`` at module level counts as the top), except in ``roma_bench.cli``, which
defers them so that ``roma-bench --help`` stays fast. Imports under ``if TYPE_CHECKING:``
do not run and are annotations only; they are exempt from the layer rule but not from
the cycle check's parsing. No module-level import cycle may exist.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Bottom to top. Each entry: (layer, module prefixes, why it sits there).
LAYERS: list[tuple[str, tuple[str, ...], str]] = [
    (
        "foundation",
        (
            "roma_bench.errors",
            "roma_bench.paths",
            "roma_bench.versions",
            "roma_bench.limits",
            "roma_bench.locks",
            "roma_bench.config",
            "roma_bench.files",
            "roma_bench.metric_names",
            "roma_bench.aggregate",
            "roma_bench.checkpoint_format",
        ),
        "errors, paths, limits, config parsing, file writing: used by everyone, use nothing",
    ),
    (
        "graphs",
        ("roma_bench.graphs",),
        "graph generation, sampling, encodings, partitions: know nothing of tasks or models",
    ),
    (
        "cards",
        ("roma_bench.dynamics.params", "roma_bench.cards"),
        "the task card schema (tasks/*.yaml) with the systems' parameter schemas it embeds",
    ),
    ("dynamics", ("roma_bench.dynamics",), "the ground-truth systems a card describes"),
    ("data", ("roma_bench.data",), "stores, windows, batches and the spec a model is built for"),
    ("registry", ("roma_bench.registry",), "model names → classes (models register themselves)"),
    ("models", ("roma_bench.models",), "ROMA and the model interface: know nothing of tracking"),
    ("baselines", ("baselines",), "baseline models, registered through the entry-point group"),
    (
        "tracking",
        ("roma_bench.tracking",),
        "MLflow runs, tags, environment: knows nothing of a particular model",
    ),
    ("training", ("roma_bench.training",), "fit, evaluate, metrics: the harness"),
    ("predictions", ("roma_bench.predictions",), "scoring predictions made by outside code"),
    (
        "boards",
        (
            "roma_bench.ranking",
            "roma_bench.convergence",
            "roma_bench.budget_records",
            "roma_bench.budgets",
            "roma_bench.budget_pages",
            "roma_bench.budget_board",
            "roma_bench.leaderboard",
            "roma_bench.board_files",
            "roma_bench.results",
        ),
        "leaderboards: ranking, convergence flags, budgets, result files",
    ),
    ("sweeps", ("roma_bench.sweeps",), "Optuna sweeps over training runs"),
    ("studies", ("roma_bench.studies",), "transfer, scaling, noise, attention studies"),
    (
        "reports",
        ("roma_bench.task_sections", "roma_bench.results_sections"),
        "README results sections from the CSVs",
    ),
    (
        "interface",
        ("roma_bench.cli", "roma_bench.__main__", "roma_bench"),
        "the command line and the package's public API",
    ),
]

DEFERRED_ALLOWED = ("roma_bench.cli",)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    top_level: bool
    type_only: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    files = [*ROOT.glob("roma_bench/**/*.py"), *ROOT.glob("baselines/**/*.py")]
    return {module_name(p): p for p in files}


def layer_of(module: str) -> int:
    best, best_len = -1, -1
    for index, (_, prefixes, _) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"module {module} is in no layer: add it to LAYERS")
    return best


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_nodes(tree: ast.Module) -> tuple[set[int], set[int]]:
    """ids of import nodes at module level (incl. module-level if/try), and of type-only ones."""
    top, type_only = set(), set()

    def visit(body: Iterable[ast.stmt], typing_block: bool) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                top.add(id(node))
                if typing_block:
                    type_only.add(id(node))
            elif isinstance(node, ast.If):
                visit(node.body, typing_block or _is_type_checking(node))
                visit(node.orelse, typing_block)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody):
                    visit(block, typing_block)
                for handler in node.handlers:
                    visit(handler.body, typing_block)

    visit(tree.body, False)
    return top, type_only


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_edges(modules: dict[str, Path]) -> list[Edge]:
    """Every import of a project module, resolved to the longest existing module name."""
    edges = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        top, type_only = _top_level_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, path, node)
                targets = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t if t in modules else base for t in targets]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    edges.append(
                        Edge(module, target, node.lineno, id(node) in top, id(node) in type_only)
                    )
    return edges


def layer_violations(edges: Iterable[Edge]) -> list[str]:
    out = []
    for e in edges:
        if e.type_only:
            continue
        if layer_of(e.target) > layer_of(e.source):
            out.append(
                f"{e.source}:{e.line} imports {e.target} "
                f"({LAYERS[layer_of(e.source)][0]} → {LAYERS[layer_of(e.target)][0]}, upward)"
            )
    return out


def deferred_imports(edges: Iterable[Edge]) -> list[str]:
    return [
        f"{e.source}:{e.line} imports {e.target} inside a function or class"
        for e in edges
        if not e.top_level and not e.source.startswith(DEFERRED_ALLOWED)
    ]


def import_cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), runtime edges only."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        if not e.type_only:
            graph.setdefault(e.source, set()).add(e.target)
            graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def test_every_module_has_a_layer():
    for module in project_modules():
        layer_of(module)


def test_imports_only_go_down_the_layers():
    assert layer_violations(import_edges(project_modules())) == []


def test_project_imports_sit_at_the_top_of_the_file():
    assert deferred_imports(import_edges(project_modules())) == []


def test_no_import_cycles():
    assert import_cycles(import_edges(project_modules())) == []


def test_the_checks_catch_a_violation():
    up = Edge("roma_bench.graphs.ops", "roma_bench.models.base", 3, True, False)
    assert layer_violations([up]) and "upward" in layer_violations([up])[0]
    assert (
        layer_violations([Edge("roma_bench.graphs.ops", "roma_bench.models", 3, True, True)]) == []
    )
    inner = Edge("roma_bench.training.fit", "roma_bench.data.store", 9, False, False)
    assert deferred_imports([inner]) and not deferred_imports(
        [Edge("roma_bench.cli.train", "roma_bench.training.fit", 9, False, False)]
    )
    loop = [
        Edge("roma_bench.data.a", "roma_bench.data.b", 1, True, False),
        Edge("roma_bench.data.b", "roma_bench.data.a", 1, True, False),
    ]
    assert import_cycles(loop) == [["roma_bench.data.a", "roma_bench.data.b"]]
