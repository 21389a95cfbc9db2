"""The protocol every model implements, and checkpoints that rebuild a model by name.

A model is a :class:`ForecastModel`: an ``nn.Module`` built from a validated
config (a :class:`~roma_bench.config.StrictModel` subclass named ``Config``) and
a :class:`TaskSpec`, whose ``forward(batch)`` returns a :class:`ModelOutput` with
predictions ``[n, H]`` and optional auxiliary losses. Sizes are named presets of
config values (``SIZES``); ``--set key=value`` overrides apply on top.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from roma_bench.checkpoint_format import CheckpointError, read_checkpoint, write_checkpoint
from roma_bench.config import ConfigError, StrictModel, validate, with_overrides
from roma_bench.data.batch import Batch
from roma_bench.data.spec import TaskSpec
from roma_bench.registry import get_model_class


@dataclass
class ModelOutput:
    """What ``forward`` returns.

    - ``prediction``: ``[n, H]`` the fine-scale field at the target frames.
    - ``aux_losses``: already-weighted scalar losses the trainer adds to the data loss
      (e.g. ROMA's ``w_pde·mean(residual²)``).
    - ``diagnostics``: unweighted scalars worth logging (e.g. ``pde_residual``).
    - ``coarse_prediction``: optional ``[m, H, C]`` coarse observables; when ``None`` the
      harness aggregates ``prediction`` with :mod:`roma_bench.dynamics.observables`.
    """

    prediction: Tensor
    aux_losses: dict[str, Tensor] = field(default_factory=dict)
    diagnostics: dict[str, Tensor] = field(default_factory=dict)
    coarse_prediction: Tensor | None = None


class EmptyConfig(StrictModel):
    """Config of a model without knobs (the reference floors)."""


TINY_PARAMETERS = 150_000
"""Parameter budget of every learned model's ``tiny`` size on every tiny card (±10%): one CPU
budget for ROMA and the baselines alike (tests/baselines/test_tiny_parameter_budget.py)."""
TINY_TOLERANCE = 0.10


class ForecastModel(nn.Module):
    """Base class of every registered model.

    Subclasses set ``Config`` (a :class:`StrictModel`), ``SIZES`` (size name → config
    values) and implement ``forward``. ``learnable = False`` marks floors that have no
    trainable parameters (the trainer evaluates them without training).
    """

    name: ClassVar[str] = "unnamed"
    Config: ClassVar[type[StrictModel]] = EmptyConfig
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}}
    learnable: ClassVar[bool] = True
    #: False inside :func:`forecasts_only`: skip work that only feeds ``diagnostics``.
    wants_diagnostics: bool = True

    def __init__(self, config: StrictModel, spec: TaskSpec) -> None:
        super().__init__()
        self.config = config
        self.spec = spec
        self.size = "custom"

    @classmethod
    def make_config(cls, spec: TaskSpec, size: str = "tiny", overrides: Any = ()) -> StrictModel:
        """The validated config for ``size`` with ``overrides`` applied (``--set`` syntax)."""
        if size not in cls.SIZES:
            raise ConfigError(
                f"model {cls.name!r}: unknown size {size!r}; sizes: {', '.join(cls.SIZES)}"
            )
        base = validate(cls.Config, cls.SIZES[size], f"{cls.name}[{size}]")
        if overrides:
            base = with_overrides(base, overrides, f"{cls.name}[{size}] --set")
        return base

    @classmethod
    def from_spec(cls, spec: TaskSpec, size: str = "tiny", overrides: Any = ()) -> ForecastModel:
        model = cls(cls.make_config(spec, size, overrides), spec)
        model.size = size
        return model

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Config overrides suggested by an Optuna ``trial`` (model knobs only). Default: none."""
        return {}

    def forward(self, batch: Batch) -> ModelOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def num_parameters(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)


def save_checkpoint(model: ForecastModel, path: str | Path, **extra: Any) -> Path:
    """Atomically write ``model`` (name, size, config, spec, weights, ``extra``) to ``path``.

    The file is safetensors with JSON metadata (:mod:`roma_bench.checkpoint_format`), no
    pickle; ``extra`` values must be tensors or plain Python data.
    """

    payload = {
        "model_name": model.name,
        "size": model.size,
        "config": model.config.model_dump(mode="json"),
        "spec": model.spec.to_dict(),
        "state_dict": model.state_dict(),
        "extra": extra,
    }
    return write_checkpoint(path, payload)


def load_checkpoint(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[ForecastModel, dict[str, Any]]:
    """Rebuild the model saved at ``path`` through the registry; returns ``(model, extra)``.

    Never unpickles: a pickled ``.pt`` file is refused with the command that converts it.
    """

    path = Path(path)
    payload = read_checkpoint(path, map_location=map_location)
    try:
        cls = get_model_class(payload["model_name"])
        spec = TaskSpec.from_dict(payload["spec"])
        config = validate(cls.Config, payload["config"], f"checkpoint {path}: config")
        model = cls(config, spec)
        model.size = payload["size"]
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path}: damaged or incomplete ({err})") from None
    return model, payload.get("extra", {})


@contextlib.contextmanager
def forecasts_only(model: nn.Module) -> Iterator[None]:
    """Within the block, every :class:`ForecastModel` in ``model`` may skip what only feeds
    ``ModelOutput.diagnostics`` outside training (ROMA's and the ``-pi`` baselines' latent-PDE
    residual in evaluation), for a caller that reads the prediction alone (the validation
    loss). Predictions are the same (up to float rounding)."""
    models = [m for m in model.modules() if isinstance(m, ForecastModel)]
    before = [m.wants_diagnostics for m in models]
    for m in models:
        m.wants_diagnostics = False
    try:
        yield
    finally:
        for m, value in zip(models, before):
            m.wants_diagnostics = value
