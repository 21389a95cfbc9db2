"""One registry for models and tasks.

Models register themselves by name when their module is imported::

    from roma_bench.registry import register_model

    @register_model("my-model")
    class MyModel(ForecastModel): ...

ROMA and the in-repo baselines are imported on first use; any installed package
can add models without editing this repository by exposing a module in the
``roma_bench.models`` entry-point group (importing it must call
:func:`register_model`)::

    [project.entry-points."roma_bench.models"]
    my_models = "my_package.models"

Tasks are the YAML cards in the top-level ``tasks/`` folder of the checkout
(a non-editable install ships a copy under ``<prefix>/share/roma-bench/tasks``);
``ROMA_BENCH_TASKS`` may name extra folders of cards (``os.pathsep``-separated),
which take precedence.
"""

from __future__ import annotations

import importlib
import warnings
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

from roma_bench.cards import available_tasks, task_card_path, task_dirs
from roma_bench.errors import RegistryError

if TYPE_CHECKING:
    from roma_bench.models.base import ForecastModel

__all__ = [
    "ENTRY_POINT_GROUP", "RegistryError", "available_models", "available_tasks", "build_model",
    "get_model_class", "load_plugins", "register_model", "task_card_path", "task_dirs",
]  # fmt: skip

ENTRY_POINT_GROUP = "roma_bench.models"
_BUILTIN_MODEL_MODULES = ("roma_bench.models.roma",)

_MODELS: dict[str, type[ForecastModel]] = {}
_loaded = False

T = TypeVar("T", bound=type)


def register_model(name: str):
    """Class decorator: register a :class:`~roma_bench.models.base.ForecastModel` under ``name``."""

    def decorator(cls: T) -> T:
        existing = _MODELS.get(name)
        if existing is not None and existing is not cls:
            same = (existing.__module__, existing.__qualname__) == (
                cls.__module__,
                cls.__qualname__,
            )
            if not same:
                raise RegistryError(
                    f"model name {name!r} is already registered by "
                    f"{existing.__module__}.{existing.__qualname__}"
                )
        cls.name = name
        _MODELS[name] = cls
        return cls

    return decorator


def load_plugins() -> None:
    """Import the built-in models and every ``roma_bench.models`` entry point (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILTIN_MODEL_MODULES:
        importlib.import_module(module)
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as err:  # an outside plugin must not break the suite
            warnings.warn(
                f"could not load model plugin {entry_point.name!r} ({entry_point.value}): {err}",
                stacklevel=2,
            )


def available_models() -> list[str]:
    """Sorted names of every registered model."""
    load_plugins()
    return sorted(_MODELS)


def get_model_class(name: str) -> type[ForecastModel]:
    """The model class registered as ``name``; the error lists the known names."""
    load_plugins()
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "(none)"
        raise RegistryError(f"unknown model {name!r}; registered models: {known}") from None


def build_model(name: str, spec: Any, size: str = "tiny", overrides: Any = ()) -> ForecastModel:
    """Build model ``name`` for a task ``spec`` at ``size`` with ``overrides`` (``--set`` syntax)."""
    cls = get_model_class(name)
    return cls.from_spec(spec, size=size, overrides=overrides)
