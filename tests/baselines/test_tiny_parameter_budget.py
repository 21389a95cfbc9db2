"""Every learned model's ``tiny`` size has 150k parameters ± 10% on every tiny card.

One CPU budget for all: ROMA and every learned baseline (and any model added later through
the registry, entry-point plugins included) are compared at the same parameter count. Floors
(``learnable = False``) have no parameters and are excluded. Models are built on the meta
device, so the whole registry is counted in seconds, with the same count the harness reports
(``roma-bench models --task km-tiny``).
"""

from __future__ import annotations

import pytest
import torch

from roma_bench.cards import load_card
from roma_bench.cli.models import count_parameters
from roma_bench.data.spec import task_spec
from roma_bench.models.base import TINY_PARAMETERS, TINY_TOLERANCE
from roma_bench.registry import available_models, available_tasks, get_model_class

TINY_CARDS = [name for name in available_tasks() if name.endswith("-tiny")]
LEARNED = [name for name in available_models() if get_model_class(name).learnable]


def test_the_tiny_cards_and_roma_are_covered() -> None:
    assert {"km-tiny", "bd-tiny"} <= set(TINY_CARDS)
    assert "roma" in LEARNED and {"don", "don-pi", "fno", "gcn"} <= set(LEARNED)


@pytest.mark.parametrize("card", TINY_CARDS)
def test_every_learned_tiny_model_has_the_budget(card: str) -> None:
    spec = task_spec(load_card(card))
    out_of_budget = []
    for name in LEARNED:
        with torch.device("meta"):
            count = get_model_class(name).from_spec(spec, "tiny").num_parameters()
        if abs(count / TINY_PARAMETERS - 1) > TINY_TOLERANCE:
            out_of_budget.append(f"{name}: {count:,} ({count / TINY_PARAMETERS:.3f}×)")
    assert not out_of_budget, f"{card} tiny sizes outside 150k ± 10%: " + "; ".join(out_of_budget)


def test_the_cli_count_is_the_budgeted_count() -> None:
    """``roma-bench models`` reports the very number the budget is checked on."""
    rows = count_parameters("km-tiny", models=["roma", "don"], sizes=["tiny"])
    assert len(rows) == 2
    for row in rows:
        assert abs(row["params"] / TINY_PARAMETERS - 1) <= TINY_TOLERANCE, row
