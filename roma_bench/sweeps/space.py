"""Search spaces: the training side (optimizer) and each model's own knobs.

A trial's suggestions are written as config overrides keyed by their dotted path
(``optim.lr``, ``model.hidden_width``) so that a trial's parameters apply to a
:class:`~roma_bench.training.config.TrainConfig` with no translation table.

Model knobs come from the model class: a model that overrides the classmethod
``ForecastModel.search_space(trial) -> dict`` declares its own space next to its
config. A model that does not gets :func:`generic_model_space`, built from the
names and values of its config fields at the chosen size:

- widths (``*width*``, ``*hidden*``, ``*channels*``, ``d_model``, ``embed_dim``): one of
  ``{v/2, v, 2v}`` (multiples of ``heads`` when the config has a heads field);
- depths (``*depth*``, ``*layers*``, ``*blocks*``): an integer in ``[v-1, v+1]`` (≥ 1);
- loss weights (``w_*``, ``lambda_*``, ``*_weight``, positive floats): log-uniform in
  ``[v/10, 10v]``;
- dropout (``*dropout*``): uniform in ``[0, 0.3]``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from roma_bench.config import ConfigError, nest_dotted, validate, with_overrides
from roma_bench.models.base import ForecastModel
from roma_bench.training.config import TrainConfig

WIDTH_PATTERN = re.compile(r"(width|hidden|channels|^d_model$|^(embed|model|hidden)_dim$)")
DEPTH_PATTERN = re.compile(r"(depth|layers|blocks)")
HEADS_PATTERN = re.compile(r"heads")
LOSS_WEIGHT_PATTERN = re.compile(r"(^w_|^lambda_|_weight$|^weight_(?!decay))")
DROPOUT_PATTERN = re.compile(r"dropout")
# Fields that describe the data, not the capacity, are never tuned.
EXCLUDED_PATTERN = re.compile(r"(^in_|^out_|input|output|lookback|horizon|seed|latent|coord)")


def training_space(trial: Any) -> dict[str, Any]:
    """Optimizer overrides: ``optim.lr`` ~ logU[1e-4, 3e-2], ``optim.weight_decay`` ~ logU[1e-6, 1e-1]."""
    return {
        "optim.lr": trial.suggest_float("optim.lr", 1e-4, 3e-2, log=True),
        "optim.weight_decay": trial.suggest_float("optim.weight_decay", 1e-6, 1e-1, log=True),
    }


def size_values(model_cls: type, size: str) -> dict[str, Any]:
    """The validated config values of ``model_cls`` at ``size`` (defaults filled in)."""
    sizes = getattr(model_cls, "SIZES", {"tiny": {}})
    if size not in sizes:
        raise ConfigError(
            f"model {getattr(model_cls, 'name', model_cls.__name__)!r}: unknown size {size!r}; "
            f"sizes: {', '.join(sizes)}"
        )
    config = validate(model_cls.Config, sizes[size], f"{model_cls.__name__}[{size}]")
    return config.model_dump()


def width_fields(values: Mapping[str, Any]) -> list[str]:
    """Names of integer capacity-width fields (used by the parameter-scaling study too)."""
    return [
        name
        for name, value in values.items()
        if _is_int(value)
        and value > 1
        and WIDTH_PATTERN.search(name)
        and not EXCLUDED_PATTERN.search(name)
        and not HEADS_PATTERN.search(name)
    ]


def heads_multiple(values: Mapping[str, Any]) -> int:
    """Least common multiple of every ``*heads*`` field (widths must stay divisible by it)."""
    multiple = 1
    for name, value in values.items():
        if HEADS_PATTERN.search(name) and _is_int(value) and value > 0:
            multiple = math.lcm(multiple, value)
    return multiple


def generic_model_space(trial: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """Suggest ``model.<field>`` overrides from the field names and values (rules above)."""
    overrides: dict[str, Any] = {}
    multiple = heads_multiple(values)
    for name in width_fields(values):
        base = int(values[name])
        choices = sorted({c for c in (base // 2, base, base * 2) if c >= 1 and c % multiple == 0})
        if len(choices) > 1:
            overrides[f"model.{name}"] = trial.suggest_categorical(f"model.{name}", choices)
    for name, value in values.items():
        if EXCLUDED_PATTERN.search(name):
            continue
        if _is_int(value) and value >= 1 and DEPTH_PATTERN.search(name):
            low, high = max(1, value - 1), value + 1
            overrides[f"model.{name}"] = trial.suggest_int(f"model.{name}", low, high)
        elif _is_float(value) and value > 0 and LOSS_WEIGHT_PATTERN.search(name):
            overrides[f"model.{name}"] = trial.suggest_float(
                f"model.{name}", value / 10, value * 10, log=True
            )
        elif _is_float(value) and DROPOUT_PATTERN.search(name):
            overrides[f"model.{name}"] = trial.suggest_float(f"model.{name}", 0.0, 0.3)
    return overrides


def declares_own_space(model_cls: type) -> bool:
    """True when ``model_cls`` overrides ``ForecastModel.search_space``."""

    own = getattr(model_cls, "search_space", None)
    return own is not None and getattr(own, "__func__", None) is not getattr(
        ForecastModel.search_space, "__func__", None
    )


def model_space(trial: Any, model_cls: type, size: str) -> dict[str, Any]:
    """The model's own space when it declares one, else :func:`generic_model_space`.

    A model's ``search_space`` may return plain field names (``{"width": 64}``) or dotted
    ``model.`` paths; both are returned as ``model.<field>`` keys.
    """
    if declares_own_space(model_cls):
        suggested = model_cls.search_space(trial) or {}
        return {k if k.startswith("model.") else f"model.{k}": v for k, v in suggested.items()}
    return generic_model_space(trial, size_values(model_cls, size))


def suggest_train_config(trial: Any, base: TrainConfig, model_cls: type) -> TrainConfig:
    """``base`` with the trial's training and model suggestions applied (validated)."""
    flat = {**training_space(trial), **model_space(trial, model_cls, base.size)}
    return apply_dotted(base, flat, f"trial {getattr(trial, 'number', '?')}")


def apply_dotted(base: TrainConfig, flat: Mapping[str, Any], source: str) -> TrainConfig:
    """Apply ``{"optim.lr": 1e-3, "model.width": 64}`` to ``base`` (``--set`` semantics:
    :func:`roma_bench.config.nest_dotted`, then :func:`~roma_bench.config.with_overrides`)."""
    return with_overrides(base, nest_dotted(flat, source), source)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_float(value: Any) -> bool:
    return isinstance(value, float)
