"""Dependencies declared as used: every third-party import of the package is a declared
dependency, and every declared dependency is imported (or pinned for a stated reason)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: import name → distribution name, where they differ
DISTRIBUTION = {"yaml": "pyyaml", "neuralop": "neuraloperator", "psycopg2": "psycopg2-binary"}
#: pinned only for another package's sake (each has its reason in pyproject.toml)
PINNED_FOR_OTHERS = {"torchdata", "setuptools"}


def _declared(group: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0].lower() for spec in group}


def _imported(folders: list[str]) -> set[str]:
    names = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    local = {"roma_bench", "baselines", "__future__"}
    third_party = names - local - set(sys.stdlib_module_names)
    return {DISTRIBUTION.get(name, name).lower() for name in third_party}


def test_every_import_is_declared_and_every_dependency_is_imported():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _declared(project["dependencies"])
    imported = _imported(["roma_bench", "baselines"])
    assert imported - runtime == set(), "imported but not in [project] dependencies"
    assert runtime - imported - PINNED_FOR_OTHERS == set(), "declared but never imported"
