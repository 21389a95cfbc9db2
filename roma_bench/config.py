"""Validated configuration: strict pydantic models and ``key=value`` overrides.

Every config in roma-bench (task cards, model configs, training configs) is a
:class:`StrictModel`: unknown keys and out-of-range values are rejected with the
field named, never silently ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration could not be read or validated; the message names the field or file."""


class StrictModel(BaseModel):
    """Base for every validated config: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


def format_validation_error(error: ValidationError, source: str) -> str:
    """One readable line per problem: ``source: field.path: message (got value)``."""
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"]) or "<root>"
        msg = item["msg"]
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check its spelling)"
        got = item.get("input")
        suffix = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        lines.append(f"{source}: {loc}: {msg}{suffix}")
    return "\n".join(lines)


def validate(cls: type[M], data: Mapping[str, Any], source: str) -> M:
    """Validate ``data`` as ``cls``; raise :class:`ConfigError` naming each bad field."""
    try:
        return cls.model_validate(dict(data))
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping from ``path``; raise :class:`ConfigError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def parse_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """Parse ``["a.b=1", "c=[1, 2]"]`` into a nested dict; values are parsed as YAML scalars.

    >>> parse_overrides(["optim.lr=1e-3", "size=tiny"])
    {'optim': {'lr': 0.001}, 'size': 'tiny'}
    """
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected key=value")
        value = yaml.safe_load(raw) if raw.strip() else ""
        # YAML 1.1 reads "1e-3" as a string; accept scientific notation as a float.
        if isinstance(value, str) and any(c in value.lower() for c in "e."):
            with contextlib.suppress(ValueError):
                value = float(value)
        set_dotted(nested, key, value, f"--set {pair!r}")
    return nested


def set_dotted(nested: dict[str, Any], key: str, value: Any, source: str) -> None:
    """Set ``nested[a][b] = value`` for ``key = "a.b"`` (creating sections on the way)."""
    node = nested
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: {part!r} is set both as a value and a section")
        node = child
    node[parts[-1]] = value


def nest_dotted(flat: Mapping[str, Any], source: str = "overrides") -> dict[str, Any]:
    """``{"optim.lr": 1e-3, "size": "tiny"} → {"optim": {"lr": 1e-3}, "size": "tiny"}``."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        set_dotted(nested, key, value, source)
    return nested


def deep_update(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base`` (mappings merge, other values replace)."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_update(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_overrides(config: M, overrides: Mapping[str, Any] | Iterable[str], source: str) -> M:
    """Return ``config`` with ``overrides`` applied and re-validated.

    ``overrides`` is a nested mapping or a list of ``key=value`` strings (``--set`` syntax).
    Unknown keys raise :class:`ConfigError` naming the key.
    """
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    data = deep_update(config.model_dump(), overrides)
    return validate(type(config), data, source)
