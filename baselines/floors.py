"""Reference floors: where "no learning" (persistence, linear) and "perfect physics" (oracle) sit.

- ``persistence``: ``ŷ_{i,k} = x_{i,t0}`` for k = 1…H.
- ``linear``: ``ŷ_{i,k} = x_{i,t0} + k·(x_{i,t0} − x_{i,t0−1})`` (linear extrapolation of the
  last two frames of the window; equals persistence when κ = 1).
- ``oracle``: integrates the task's true equations (same card, same parameters, same RK4 step
  ``dt``) from the whole graph's stored state at ``t0`` and returns the batch's nodes. It knows
  no future exogenous input: the social drive is held at ``s(t0)`` over the whole forecast
  (:meth:`~roma_bench.dynamics.social.SocialSystem.with_drive_held`); the Kuramoto coupling
  schedule K(t) is a known function of time, not an exogenous event. Its rollouts feed back
  its own state (one integration of ``frames`` frames from ``t0``; see :meth:`Oracle.rollout`),
  never the stored future. Its error is the floor of what the state and the equations predict.

None of them has trainable parameters (``learnable = False``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import Tensor

from roma_bench.data.batch import Batch
from roma_bench.data.store import TaskStore
from roma_bench.dynamics.integrate import simulate
from roma_bench.dynamics.systems import build_system
from roma_bench.models.base import EmptyConfig, ForecastModel, ModelOutput, TaskSpec
from roma_bench.registry import register_model


@register_model("persistence")
class Persistence(ForecastModel):
    """``ŷ_{i,k} = x_{i,t0}``: the last observed frame repeated H times. ``[n, κ] → [n, H]``."""

    Config = EmptyConfig
    SIZES: dict[str, dict[str, Any]] = {"tiny": {}, "base": {}}
    learnable = False

    def forward(self, batch: Batch) -> ModelOutput:
        last = batch.history[:, -1:]
        return ModelOutput(prediction=last.expand(-1, self.spec.horizon).clone())


@register_model("linear")
class LinearExtrapolation(ForecastModel):
    """``ŷ_{i,k} = x_{i,t0} + k·(x_{i,t0} − x_{i,t0−1})`` for k = 1…H. ``[n, κ] → [n, H]``."""

    Config = EmptyConfig
    SIZES: dict[str, dict[str, Any]] = {"tiny": {}, "base": {}}
    learnable = False

    def forward(self, batch: Batch) -> ModelOutput:
        history = batch.history
        last = history[:, -1:]
        slope = last - history[:, -2:-1] if history.shape[1] > 1 else torch.zeros_like(last)
        steps = torch.arange(1, self.spec.horizon + 1, dtype=history.dtype, device=history.device)
        return ModelOutput(prediction=last + steps * slope)


class OracleConfig(EmptyConfig):
    """Knobs of the oracle: how many full-graph forecasts (one per ``t0``) to keep cached."""

    cache_size: int = Field(8, ge=1)


@register_model("oracle")
class Oracle(ForecastModel):
    """The true equations integrated from the stored full-graph state at ``t0`` (no future input).

    ``X(t0 + k·Δ) = RK4^{k·save_every}(X(t0))`` for the whole graph (``Δ`` = frame spacing,
    RK4 step = the card's ``dt``) with the system of ``system.forecast_system(t0)`` (the social
    drive frozen at ``s(t0)``), then ``ŷ = X[node_ids]``. Only frame ``t0`` of the store is read.
    Needs ``spec.data_path`` (the task's HDF5 store, which holds the card, the graph and the
    clean frames). Forecasts are cached per frame index (LRU, ``cache_size`` entries; the
    longest one computed is kept), so batches sharing a ``t0`` integrate once.
    """

    Config = OracleConfig
    SIZES: dict[str, dict[str, Any]] = {"tiny": {}, "base": {}}
    learnable = False

    def __init__(self, config: OracleConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        self._store: Any = None
        self._system: Any = None
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()  # frame -> [N, ≥ frames]

    def _open(self) -> None:
        if self._store is not None:
            return
        if not self.spec.data_path:
            raise ValueError(
                f"model 'oracle' needs the task's data file: TaskSpec.data_path is empty for task "
                f"{self.spec.name!r} (generate the task first)"
            )

        store = TaskStore(self.spec.data_path)
        self._system = build_system(store.card, store.graph)
        self._store = store

    def clear_cache(self) -> None:
        """Forget the cached full-graph forecasts (the next call integrates again)."""
        self._cache.clear()

    def full_forecast(self, frame: int, frames: int | None = None) -> np.ndarray:
        """``[N, frames]`` float64 (default H): the whole graph integrated from stored ``frame``.

        Column k−1 is ``X(t0 + k·Δ)``; the drive is held at ``t0`` for all k.
        """
        frames = self.spec.horizon if frames is None else int(frames)
        cached = self._cache.get(frame)
        if cached is not None and cached.shape[1] >= frames:
            self._cache.move_to_end(frame)
            return cached[:, :frames]

        self._open()
        sim = self._store.card.simulation
        if not 0 <= frame < self._store.num_frames:
            raise ValueError(
                f"oracle: frame {frame} outside the store's [0, {self._store.num_frames})"
            )
        nodes = np.arange(self._store.num_nodes)
        start = self._store.read_field(nodes, frame, frame + 1)[:, 0].astype(np.float64)
        first_step = frame * sim.save_every
        last_step = (frame + frames) * sim.save_every
        system = self._system.forecast_system(first_step * sim.dt)
        states = [
            y for _, _, y in simulate(system, start, first_step, last_step, sim.dt, sim.save_every)
        ]
        forecast = np.stack(states, axis=1)
        self._cache[frame] = forecast
        self._cache.move_to_end(frame)
        while len(self._cache) > self.config.cache_size:
            self._cache.popitem(last=False)
        return forecast

    def _frame(self, batch: Batch) -> int:
        frame = round(batch.t0 / batch.frame_dt)
        if abs(frame * batch.frame_dt - batch.t0) > 1e-6 * max(1.0, abs(batch.t0)):
            raise ValueError(f"oracle: t0={batch.t0} is not on the frame grid (Δ={batch.frame_dt})")
        return frame

    def rollout(self, batch: Batch, frames: int) -> Tensor:
        """``[n, frames]``: frames ``t0+1 … t0+frames`` of one integration from the state at ``t0``.

        The evaluator's rollout uses this hook instead of feeding predictions back H at a
        time: the oracle's own full-graph state is its feedback (it never re-reads the store).
        """
        forecast = self.full_forecast(self._frame(batch), frames)
        rows = forecast[batch.node_ids.cpu().numpy()]
        return torch.as_tensor(rows, dtype=batch.history.dtype, device=batch.history.device)

    def forward(self, batch: Batch) -> ModelOutput:
        return ModelOutput(prediction=self.rollout(batch, self.spec.horizon))
