"""A recording trainer for the study tests: it records each config and returns a known error.

``tests/studies`` is on ``sys.path`` when its tests run (pytest's rootdir import mode), so
``from study_doubles import RecordingTrainer`` works from every test in this folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from roma_bench.cards import load_card
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import TrainResult


class RecordingTrainer:
    """Records ``(config, kwargs)``; the test error is ``error_of(config)``, the other test
    metrics ``extra_of(config)``; run ids are ``<name><call number>``."""

    def __init__(
        self,
        tmp: Path,
        error_of: Callable[[TrainConfig], float],
        extra_of: Callable[[TrainConfig], dict[str, float]] | None = None,
        name: str = "run",
    ) -> None:
        self.calls: list[tuple[TrainConfig, dict[str, Any]]] = []
        self.tmp, self.error_of, self.extra_of, self.name = tmp, error_of, extra_of, name

    @property
    def configs(self) -> list[TrainConfig]:
        """The configs trained, in order."""
        return [config for config, _ in self.calls]

    def __call__(self, config: TrainConfig, **kwargs: Any) -> TrainResult:
        self.calls.append((config, kwargs))
        checkpoint = self.tmp / f"ckpt-{self.name}-{len(self.calls)}.pt"
        checkpoint.write_text("weights")
        error = self.error_of(config)
        metric = load_card(config.task).primary_metric(config.learning_task)
        width = config.model.get("dec_width", 64)
        metrics = {metric: error, **(self.extra_of(config) if self.extra_of else {})}
        return TrainResult(
            run_id=f"{self.name}{len(self.calls)}", checkpoint=checkpoint, best_val_loss=error,
            final_val_loss=error, steps_done=config.steps, wall_time=0.1,
            num_parameters=10 * width**2, status="FINISHED", metrics=metrics,
        )  # fmt: skip
