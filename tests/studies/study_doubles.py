"""A recording trainer for the study tests (it records each config and returns a known error),
and :func:`run_study`, a small study of each kind trained with it.

``tests/studies`` is on ``sys.path`` when its tests run (pytest's rootdir import mode), so
``from study_doubles import RecordingTrainer`` works from every test in this folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from roma_bench.cards import load_card
from roma_bench.studies.noise import run_noise_study
from roma_bench.studies.scaling import run_scaling_study
from roma_bench.studies.transfer import run_transfer_study
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


def pde_scores(config: TrainConfig) -> dict[str, float]:
    """The latent-PDE scores the joint protocol reads besides the forecast error."""
    return {"pde_residual": 0.1, "coarse_error": 0.3}


def run_study(
    study: str, trainer: RecordingTrainer, out_dir: Path, tracking: str, steps: int = 5,
    train: bool = True, shard: tuple[int, int] = (1, 1),
) -> tuple[list[dict], Path]:  # fmt: skip
    """Four runs of ``study`` (two settings × seeds 0, 1; ``shard``: only that shard's);
    its rows and CSV."""
    options = {"tracking_uri": tracking, "out_dir": out_dir, "train_fn": trainer, "command": "c",
               "train": train, "shard": shard}  # fmt: skip
    if study == "transfer":
        base = TrainConfig(model_name="roma", task="km-tiny", steps=steps)
        rows, files = run_transfer_study(base, ["roma"], [0, 1], **options)
    elif study == "scaling":
        base = TrainConfig(model_name="gcn", task="km-tiny", steps=steps)
        rows, _, files = run_scaling_study(base, ["gcn"], width_factors=(1, 2), seeds=(0, 1),
                                           **options)  # fmt: skip
    else:
        base = TrainConfig(model_name="gcn", task="km-tiny", steps=steps)
        rows, _, files = run_noise_study(base, ["gcn"], sigmas=(0.0, 0.01), seeds=(0, 1), **options)
    return rows, files.csv


def run_ids(study: str, rows) -> list[str]:
    column = "run" if study == "transfer" else "run_id"
    return [str(r[column]) for r in rows]
