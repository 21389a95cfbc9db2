"""Validated configs: unknown keys and bad values are named; --set overrides parse and merge."""

import pytest
from pydantic import Field

from roma_bench.config import (
    ConfigError,
    StrictModel,
    load_yaml,
    parse_overrides,
    validate,
    with_overrides,
)


class Inner(StrictModel):
    lr: float = Field(1e-3, gt=0)


class Outer(StrictModel):
    name: str = "x"
    depth: int = Field(2, ge=1)
    optim: Inner = Inner()


def test_parse_overrides_nests_and_types_values():
    got = parse_overrides(["optim.lr=1e-4", "depth=3", "name=roma", "flags=[1, 2]"])
    assert got == {"optim": {"lr": 1e-4}, "depth": 3, "name": "roma", "flags": [1, 2]}


def test_parse_overrides_rejects_missing_equals():
    with pytest.raises(ConfigError, match="expected key=value"):
        parse_overrides(["depth"])


def test_with_overrides_revalidates():
    cfg = with_overrides(Outer(), ["optim.lr=0.5", "depth=4"], "test")
    assert cfg.optim.lr == 0.5 and cfg.depth == 4


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match=r"test: optim\.lrr: unknown key"):
        with_overrides(Outer(), ["optim.lrr=1"], "test")


def test_out_of_range_value_is_named():
    with pytest.raises(
        ConfigError, match=r"card\.yaml: depth: .*greater than or equal to 1.*got 0"
    ):
        validate(Outer, {"depth": 0}, "card.yaml")


def test_load_yaml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: expected a mapping"):
        load_yaml(bad)
