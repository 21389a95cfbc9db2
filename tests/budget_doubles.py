"""Fakes for the budget tests: a run that records its config instead of training, and a
validation score that follows a known curve.

``tests/`` is on ``sys.path`` (its ``conftest.py``), so ``from budget_doubles import ...``
works from every test folder.
"""

from __future__ import annotations

from pathlib import Path


def fake_run(log: list):
    """A run that records its config; its 'checkpoint' names the config."""

    def run(config):
        log.append(config)
        return Path(f"{config.model_name}-{config.steps}-{config.seed}-{config.optim.lr}")

    return run


def curve_score(plateau: dict[str, float]):
    """Validation error ``plateau + 1/steps`` per model (converged when 1/steps is small)."""

    def score(checkpoint, config):
        return plateau[config.model_name] + 1.0 / config.steps

    return score
