"""Fixtures of the study tests: one MLflow store per test module."""

from __future__ import annotations

from collections.abc import Iterator

import mlflow
import pytest


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One MLflow store for the module (creating an SQLite store takes seconds)."""
    yield f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    while mlflow.active_run():
        mlflow.end_run()
