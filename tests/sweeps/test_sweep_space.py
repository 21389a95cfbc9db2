"""Search spaces: generic spaces from config field names, a model's own space, dotted overrides."""

from __future__ import annotations

from typing import Any, ClassVar

import optuna
import pytest

from roma_bench.config import ConfigError, StrictModel
from roma_bench.models.base import ForecastModel
from roma_bench.sweeps.space import (
    apply_dotted,
    declares_own_space,
    generic_model_space,
    model_space,
    suggest_train_config,
    width_fields,
)
from roma_bench.training.config import TrainConfig


class _Config(StrictModel):
    hidden_width: int = 64
    num_heads: int = 4
    depth: int = 2
    latent_dim: int = 2
    in_channels: int = 3
    w_link: float = 0.1
    dropout: float = 0.0
    activation: str = "gelu"


class _Generic(ForecastModel):
    Config = _Config
    SIZES: ClassVar[dict[str, dict[str, Any]]] = {"tiny": {}, "big": {"hidden_width": 256}}


class _Own(_Generic):
    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"hidden_width": trial.suggest_categorical("hidden_width", [8, 16])}


def _trial(seed: int = 0) -> optuna.Trial:
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()


def test_generic_space_follows_field_names_and_values() -> None:
    values = _Config().model_dump()
    assert width_fields(values) == ["hidden_width"]  # not latent_dim, in_channels or heads
    trial = _trial()
    space = generic_model_space(trial, values)
    assert set(space) == {"model.hidden_width", "model.depth", "model.w_link", "model.dropout"}
    dists = trial.distributions
    assert dists["model.hidden_width"].choices == (32, 64, 128)
    assert (dists["model.depth"].low, dists["model.depth"].high) == (1, 3)
    assert (dists["model.w_link"].low, dists["model.w_link"].high) == pytest.approx((0.01, 1.0))
    assert dists["model.w_link"].log


def test_generic_space_uses_the_size_preset() -> None:
    trial = _trial()
    model_space(trial, _Generic, "big")
    assert trial.distributions["model.hidden_width"].choices == (128, 256, 512)


def test_a_model_that_declares_its_space_gets_it() -> None:
    assert not declares_own_space(_Generic) and declares_own_space(_Own)
    assert set(model_space(_trial(), _Own, "tiny")) == {"model.hidden_width"}


def test_trial_suggestions_land_in_a_valid_train_config() -> None:
    base = TrainConfig(model_name="x", task="km-tiny", model={"activation": "relu"})
    config = suggest_train_config(_trial(3), base, _Generic)
    assert 1e-4 <= config.optim.lr <= 3e-2 and 1e-6 <= config.optim.weight_decay <= 1e-1
    assert config.model["activation"] == "relu"  # base overrides are kept
    assert config.model["hidden_width"] in (32, 64, 128)
    assert config.steps == base.steps and config.seed == base.seed


def test_dotted_overrides_are_validated_with_the_field_named() -> None:
    base = TrainConfig(model_name="x", task="km-tiny")
    with pytest.raises(ConfigError, match=r"optim\.lr"):
        apply_dotted(base, {"optim.lr": -1.0}, "trial 0")
