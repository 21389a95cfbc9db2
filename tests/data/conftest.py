"""Fixtures of the data tests: a micro Kuramoto card and its store (generated once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cards_for_tests import micro_card_data

from roma_bench.cards import TaskCard


@pytest.fixture(scope="session")
def micro_card() -> TaskCard:
    return TaskCard.model_validate(micro_card_data())


@pytest.fixture(scope="session")
def micro_store(micro_card: TaskCard, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from roma_bench.data.generation import generate_task

    out = tmp_path_factory.mktemp("micro") / "micro.h5"
    return generate_task(micro_card, out, progress=False)
