"""Shared fixtures: generated task stores (generated once per test session)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def km_tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a complete, generated ``km-tiny`` store in a session temp folder (read-only use)."""
    from roma_bench.cards import load_card
    from roma_bench.data.generation import generate_task

    out = tmp_path_factory.mktemp("stores") / "km-tiny.h5"
    return generate_task(load_card("km-tiny"), out, progress=False)


@pytest.fixture(scope="session")
def bd_tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of a complete, generated ``bd-tiny`` store (a few seconds; read-only use)."""
    from roma_bench.cards import load_card
    from roma_bench.data.generation import generate_task

    out = tmp_path_factory.mktemp("stores") / "bd-tiny.h5"
    return generate_task(load_card("bd-tiny"), out, progress=False)


@pytest.fixture(autouse=True)
def _restore_mlflow_tracking_uri() -> Iterator[None]:
    """``mlflow.set_tracking_uri`` also sets ``$MLFLOW_TRACKING_URI``; put it back after each
    test so no test's store leaks into the next (or into the subprocesses it starts)."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    yield
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
