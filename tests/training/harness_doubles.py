"""Test doubles for the training harness: a synthetic task and a tiny registered model.

``SyntheticTaskData`` implements :class:`roma_bench.training.data.TaskData` with
drifting-phase (Kuramoto-like) fields on random graphs, training batches that are
a function of ``(seed, step)``, and fixed held-out batches with ``future`` frames.
It can simulate a crash (``kill_at``) or corrupt data (``nan_from``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from graph_doubles import bidirected_graph
from torch import nn

from roma_bench.config import StrictModel
from roma_bench.data.batch import Batch
from roma_bench.dynamics.observables import coarse_observables
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.training.data import step_seed

LOOKBACK, HORIZON, ROLLOUT, ENCODINGS, PARTS = 8, 2, 16, (2, 2), 3


class SimulatedKillError(RuntimeError):
    """Raised by the synthetic data at ``kill_at`` to imitate a killed process."""


def make_spec(
    system: str = "kuramoto", learning_task: str = "forecast", name: str = "syn-tiny"
) -> TaskSpec:
    return TaskSpec(
        name=name, version="1.0", system=system, lookback=LOOKBACK, horizon=HORIZON,
        encoding_sizes=ENCODINGS, coarse_channels=2 if system == "kuramoto" else 1,
        num_nodes=500, frame_dt=0.1, learning_task=learning_task,
    )  # fmt: skip


def make_batch(seed: int, n: int = 24, system: str = "kuramoto", future: bool = False) -> Batch:
    """Phases drifting at ω_i (plus a small common wobble): learnable, persistence is beaten."""
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n, (2 * n,), generator=gen)
    dst = torch.randint(0, n, (2 * n,), generator=gen)
    keep = src != dst
    graph = bidirected_graph(src[keep], dst[keep], n)
    frames = LOOKBACK + ROLLOUT
    omega = torch.randn(n, generator=gen)
    theta0 = 3.0 + torch.rand(n, generator=gen)
    k = torch.arange(frames, dtype=torch.float32)
    values = theta0[:, None] + 0.1 * omega[:, None] * k + 0.02 * torch.sin(0.5 * k)[None]
    if system == "social":
        values = torch.nn.functional.softplus(values)
    values = values.float()
    assignment = torch.arange(n) % PARTS
    target = values[:, LOOKBACK : LOOKBACK + HORIZON].contiguous()
    return Batch(
        graph=graph,
        node_ids=torch.arange(n) + 7,
        history=values[:, :LOOKBACK].contiguous(),
        target=target,
        t0=float((LOOKBACK - 1) * 0.1),
        frame_dt=0.1,
        encodings=torch.randn(n, sum(ENCODINGS), generator=gen),
        coords=torch.rand(n, 2, generator=gen),
        coarse_assignment=assignment,
        coarse_target=coarse_observables(target, assignment, PARTS, system),
        system=system,
        encoding_sizes=ENCODINGS,
        future=values[:, LOOKBACK:].contiguous() if future else None,
    )


@dataclass(frozen=True)
class _Items:
    """``items[k]`` calls ``get(k)``."""

    get: Callable[[int], Batch]

    def __getitem__(self, step: int) -> Batch:
        return self.get(step)


@dataclass
class SyntheticTaskData:
    """A :class:`~roma_bench.training.data.TaskData` double (see the module docstring)."""

    spec: TaskSpec
    seed: int = 0
    version: str = "1.0"
    checksum: str = "synthetic-checksum"
    path: None = None
    kill_at: int | None = None
    nan_from: int | None = None
    served: list[int] = field(default_factory=list)
    #: what a store would hold: one-frame steps 0.1·ω; social activity of order 3
    normalization: dict[str, float] = field(
        default_factory=lambda: {
            "increment_scale": 0.1,
            "difference_scales": (0.1, 0.05, 0.05, 0.05),
            "level_scale": 3.0,
        }
    )

    @property
    def train_windows(self) -> _Items:
        """Indexable like :class:`~roma_bench.data.datasets.TrainWindows`: ``[k]`` = step ``k``."""
        return _Items(self._train_item)

    def _train_item(self, step: int) -> Batch:
        if self.kill_at is not None and step == self.kill_at:
            raise SimulatedKillError(f"simulated kill before step {step}")
        self.served.append(step)
        batch = make_batch(step_seed(self.seed, step), system=self.spec.system)
        if self.nan_from is not None and step >= self.nan_from:
            batch.history[0, 0] = float("nan")
        return batch

    def eval_batches(self, split: str) -> list[Batch]:
        offset = {"val": 1000, "test": 2000}[split]
        return [make_batch(offset + i, system=self.spec.system, future=True) for i in range(2)]


class HarnessLinearConfig(StrictModel):
    hidden: int = 16
    dropout: float = 0.1


class HarnessLinear(ForecastModel):
    """``f = MLP(Δx̃)`` of the harness's normalized history (decoded to ``x_t0 + s·f``)."""

    name = "harness-linear"
    Config = HarnessLinearConfig
    SIZES = {"tiny": {}, "small": {"hidden": 32}}

    def __init__(self, config: HarnessLinearConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        self.net = nn.Sequential(
            nn.Linear(spec.lookback - 1, config.hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, spec.horizon),
        )

    def forward(self, batch: Batch) -> ModelOutput:
        drift = self.net(batch.history.diff(dim=1))
        prediction = batch.history[:, -1:] + drift  # the last normalized frame is 0
        residual = (drift**2).mean()
        return ModelOutput(
            prediction=prediction,
            aux_losses={"drift_l2": 1e-6 * residual},
            diagnostics={"pde_residual": residual.detach()},
        )


class HarnessPersistence(ForecastModel):
    """``ŷ_{t0+k} = x_{t0}``; no parameters (``learnable = False``)."""

    name = "harness-persistence"
    learnable = False

    def forward(self, batch: Batch) -> ModelOutput:
        return ModelOutput(prediction=batch.history[:, -1:].expand(-1, self.spec.horizon).clone())


def install(monkeypatch, **kwargs) -> dict[str, SyntheticTaskData]:
    """Route :func:`roma_bench.training.data.open_task_data` to synthetic data; returns the opened.

    Also registers the two test models for the duration of the test only (so the rest of
    the suite never sees them in ``available_models()``).
    """
    from roma_bench import registry
    from roma_bench.training import data as task_data

    registry.load_plugins()
    for cls in (HarnessLinear, HarnessPersistence):
        monkeypatch.setitem(registry._MODELS, cls.name, cls)

    opened: dict[str, SyntheticTaskData] = {}

    def fake_open(task, learning_task="forecast", seed=0, noise=None, **_):
        system = "social" if task.startswith("syn-social") else "kuramoto"
        data = SyntheticTaskData(make_spec(system, learning_task, name=task), seed=seed, **kwargs)
        opened[task] = data
        return data

    monkeypatch.setattr(task_data, "open_task_data", fake_open)
    return opened


def install_synthetic_card(tmp_path, monkeypatch) -> str:
    """A valid card renamed ``syn-tiny`` (km-tiny's fields) served from ``tmp_path``, data and
    runs under ``tmp_path``, the synthetic task data installed; returns the tracking URI."""
    import yaml

    from roma_bench.config import load_yaml
    from roma_bench.registry import task_card_path

    cards = tmp_path / "cards"
    cards.mkdir()
    card = load_yaml(task_card_path("km-tiny"))
    card.update(name="syn-tiny", version="1.0")
    (cards / "syn-tiny.yaml").write_text(yaml.safe_dump(card))
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(cards))
    monkeypatch.setenv("ROMA_BENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ROMA_BENCH_RUNS", str(tmp_path / "runs"))
    install(monkeypatch)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"
