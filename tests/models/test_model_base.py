"""The model protocol: sizes, overrides, and checkpoints that rebuild a model by name."""

import pytest
import torch
from torch import nn

from roma_bench import registry
from roma_bench.config import ConfigError, StrictModel
from roma_bench.models.base import (
    ForecastModel,
    ModelOutput,
    TaskSpec,
    load_checkpoint,
    save_checkpoint,
)

SPEC = TaskSpec(
    name="km-test",
    version="1",
    system="kuramoto",
    lookback=8,
    horizon=2,
    encoding_sizes=(4, 4),
    coarse_channels=2,
    num_nodes=100,
    frame_dt=0.1,
)


class _Config(StrictModel):
    width: int = 8


class _Linear(ForecastModel):
    Config = _Config
    SIZES = {"tiny": {"width": 4}, "base": {"width": 16}}

    def __init__(self, config, spec):
        super().__init__(config, spec)
        self.net = nn.Sequential(
            nn.Linear(spec.lookback, config.width), nn.Linear(config.width, spec.horizon)
        )

    def forward(self, batch):
        return ModelOutput(prediction=self.net(batch.history))


@pytest.fixture(autouse=True)
def _registered():
    """Register the test model only while these tests run (the registry-wide tests stay clean)."""
    registry.register_model("test-base-linear")(_Linear)
    yield
    registry._MODELS.pop("test-base-linear", None)


def test_sizes_and_overrides():
    model = registry.build_model("test-base-linear", SPEC, size="base", overrides=["width=5"])
    assert model.config.width == 5 and model.size == "base"
    with pytest.raises(ConfigError, match="unknown size 'huge'"):
        registry.build_model("test-base-linear", SPEC, size="huge")
    with pytest.raises(ConfigError, match="widht: unknown key"):
        registry.build_model("test-base-linear", SPEC, overrides=["widht=3"])


def test_checkpoint_round_trip_without_pickle(tmp_path):
    model = registry.build_model("test-base-linear", SPEC, size="tiny")
    path = save_checkpoint(model, tmp_path / "ckpt" / "model.safetensors", step=7)
    assert path.read_bytes()[:4] != b"PK\x03\x04"  # safetensors, not a torch.save zip
    rebuilt, extra = load_checkpoint(path)
    assert isinstance(rebuilt, _Linear) and rebuilt.spec == SPEC and extra == {"step": 7}
    x = torch.randn(3, SPEC.lookback)
    torch.testing.assert_close(rebuilt.net(x), model.net(x), rtol=0, atol=0)


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_checkpoint(tmp_path / "nope.pt")
