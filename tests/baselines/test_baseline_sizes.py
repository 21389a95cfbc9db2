"""``base`` sizes of the learned baselines match ROMA-B's parameter count (±10%); floors have none.

The big models are built on the meta device (no memory, no init) just to count parameters.
"""

from __future__ import annotations

import pytest
import torch
from baseline_kit import make_spec

from baselines.common import ROMA_B_PARAMETERS
from roma_bench.cards import load_card
from roma_bench.data.spec import task_spec
from roma_bench.registry import available_models, get_model_class

BASELINES = [
    n for n in available_models() if get_model_class(n).__module__.startswith("baselines.")
]
LEARNED = [n for n in BASELINES if get_model_class(n).learnable]
FLOORS = [n for n in BASELINES if not get_model_class(n).learnable]


def test_the_issue_s_baselines_are_registered() -> None:
    expected = {
        "don", "don-mp", "nomad-mp", "don-pi", "don-mp-pi", "nomad-mp-pi",
        "fno", "gino", "gcn", "gat", "mpnn", "persistence", "linear", "ar", "oracle",
    }  # fmt: skip
    assert expected <= set(BASELINES)
    assert set(FLOORS) == {"persistence", "linear", "ar", "oracle"}


@pytest.fixture(scope="module")
def km_3m_spec():
    """The spec ROMA-B's count refers to (no data needed: the spec comes from the card)."""
    return task_spec(load_card("km-3m"))


@pytest.mark.parametrize("name", LEARNED)
def test_base_size_matches_roma_b(name: str, km_3m_spec) -> None:
    with torch.device("meta"):
        model = get_model_class(name).from_spec(km_3m_spec, "base")
    ratio = model.num_parameters() / ROMA_B_PARAMETERS
    assert 0.9 <= ratio <= 1.1, (
        f"{name}[base]: {model.num_parameters():,} parameters ({ratio:.3f}×)"
    )


@pytest.mark.parametrize("name", LEARNED)
def test_tiny_is_small(name: str) -> None:
    model = get_model_class(name).from_spec(make_spec(), "tiny")
    assert 0 < model.num_parameters() < 500_000


@pytest.mark.parametrize("name", FLOORS)
def test_floors_have_no_parameters(name: str) -> None:
    model = get_model_class(name).from_spec(make_spec(), "tiny")
    assert model.num_parameters(trainable_only=False) == 0


def test_roma_b_reference_count_is_current(km_3m_spec) -> None:
    """The target the base sizes aim at is ROMA-B's actual count (skipped without ROMA-B)."""
    if "roma" not in available_models() or "B" not in get_model_class("roma").SIZES:
        pytest.skip("ROMA with a 'B' size is not registered")
    with torch.device("meta"):
        roma_b = get_model_class("roma").from_spec(km_3m_spec, "B")
    assert abs(roma_b.num_parameters() / ROMA_B_PARAMETERS - 1) < 0.02
