"""``tox -e nodgl`` installs pyproject's runtime dependencies less the DGL stack, and no DGL."""

from __future__ import annotations

import configparser
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the DGL-free environment replaces (torch, numpy) or leaves out (dgl and its helpers).
DGL_STACK = {"torch", "dgl", "torchdata", "numpy", "setuptools"}


def _name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.\-]+", requirement.strip()).group(0).lower().replace("_", "-")


def test_nodgl_env_has_the_runtime_dependencies_but_not_dgl():
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini")
    lines = [x.strip() for x in tox["testenv:nodgl"]["deps"].splitlines()]
    deps = {_name(x) for x in lines if x and not x.startswith(("#", "{"))}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(x) for x in project["dependencies"]}
    dev = {_name(x) for x in project["optional-dependencies"]["dev"]}
    assert runtime - DGL_STACK <= deps, runtime - DGL_STACK - deps
    assert "dgl" not in deps and "torchdata" not in deps
    assert "numpy" in deps and {"pytest", "hypothesis", "pytest-timeout"} <= deps | dev
    assert any("torch-" in x and x.endswith(".whl}") for x in lines)  # the local CPU wheel
