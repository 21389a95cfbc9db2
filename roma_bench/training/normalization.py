"""The harness's one input/output normalization of learned models (the same for every model).

Learned models never see a raw field. For a raw :class:`~roma_bench.data.batch.Batch` with
history ``x`` ``[n, κ]`` (frames ``t0-κ+1 … t0``) and target ``y`` ``[n, H]``, the model gets

    x̃ = (x − x_t0) / s,      ỹ = (y − x_t0) / s,
    differences_j = ∇^j x_t0 / σ_j   (j = 1 … p, p = min(4, κ−1)),
    state = (cos x_t0, sin x_t0)   (Kuramoto, phases)      or   x_t0 / ℓ   (social, activity)

and its prediction ``f`` ``[n, H]`` (normalized units) is decoded as ``ŷ = x_t0 + s · f``.
``s`` is the task's stored ``/normalization/increment_scale``, ``σ_j`` its
``/normalization/difference_scales`` and ``ℓ`` its ``/normalization/level_scale``, all
computed at generation from the training split
(:func:`roma_bench.data.writing.normalization_statistics`), never per batch.

Why the differences: a smooth series makes the offsets ``x̃`` nearly collinear (on km-tiny
their Gram matrix spans eigenvalues 2e-7 … 960), and the least-squares autoregression lives
in the small directions, out of reach of a few hundred gradient steps. The same information
in the basis velocity, acceleration, … (``∇^j``), each of unit scale, is well conditioned
(eigenvalues within a factor ~5 for p = 4). Orders above 4 are dominated by float32
rounding of the stored field and are left out. ``state``
``[n, S]`` describes the current state without its arbitrary offset (a phase shifted by
2π gives the same state and the same x̃), so every model sees it the same way through
:func:`roma_bench.models.inputs.node_inputs`.

``mode`` (``TrainConfig.normalization``): ``increments`` (default) as above; ``none`` for
ablation: history and target raw in, predictions raw out (``state`` and unscaled
differences are still given, so a
model's input width does not depend on the mode). Floors (``learnable = False``) always
receive the raw batch. A model's own ``coarse_prediction`` is in the state's units
(:meth:`Normalization.decode_coarse`: unchanged for Kuramoto phasor means, times ℓ for social
activity); without one, the harness aggregates the *decoded* prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from roma_bench.data.batch import Batch, backward_differences, difference_orders
from roma_bench.models.base import ModelOutput

NormalizationMode = Literal["increments", "none"]
MODES: tuple[str, ...] = ("increments", "none")


@dataclass(frozen=True)
class Normalization:
    """The normalization of one task: ``mode``, stored ``increment_scale`` s,
    ``difference_scales`` σ_1…σ_p and ``level_scale`` ℓ (social)."""

    mode: NormalizationMode
    increment_scale: float
    difference_scales: tuple[float, ...] = ()
    level_scale: float | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"normalization {self.mode!r}: expected one of {', '.join(MODES)}")
        if not self.increment_scale > 0:
            raise ValueError(f"increment_scale must be > 0, got {self.increment_scale}")
        if not all(scale > 0 for scale in self.difference_scales):
            raise ValueError(f"difference_scales must be > 0, got {self.difference_scales}")

    @classmethod
    def from_stats(
        cls, stats: dict[str, float | tuple[float, ...]], mode: NormalizationMode
    ) -> Normalization:
        """From a store's ``normalization`` (``increment_scale``, ``difference_scales``
        and, social, ``level_scale``)."""
        return cls(
            mode,
            float(stats["increment_scale"]),
            tuple(float(v) for v in stats["difference_scales"]),
            stats.get("level_scale"),
        )

    def differences(self, history: Tensor) -> Tensor:
        """``[n, κ]`` raw history → ``[n, p]`` ``∇^j x_t0 / σ_j`` (raw ``∇^j x_t0`` in mode
        ``none``); ``p = difference_orders(κ)`` must match the stored ``difference_scales``."""
        orders = difference_orders(history.shape[1])
        if orders != len(self.difference_scales):
            raise ValueError(
                f"a {history.shape[1]}-frame history has {orders} backward differences, but the "
                f"task stores {len(self.difference_scales)} difference_scales"
            )
        raw = backward_differences(history, orders)
        if self.mode == "none":
            return raw
        return raw / raw.new_tensor(self.difference_scales)

    def state(self, last: Tensor, system: str) -> Tensor:
        """``[n, 1]`` raw last frame ``x_t0`` → ``[n, S]`` offset-free state (module docstring)."""
        if system == "kuramoto":
            return torch.cat([torch.cos(last), torch.sin(last)], dim=1)
        if system == "social":
            if self.level_scale is None:
                raise ValueError("the social system's state needs the store's level_scale")
            return last / self.level_scale
        raise ValueError(f"unknown system {system!r}")

    def normalize(self, batch: Batch) -> Batch:
        """The model's view of a raw batch: ``x̃``, ``ỹ``, ``state``; ``future`` dropped."""
        last = batch.history[:, -1:]
        state = self.state(last.float(), batch.system).to(batch.history.dtype)
        differences = self.differences(batch.history)
        if self.mode == "none":
            return replace(batch, state=state, differences=differences, future=None)
        s = self.increment_scale
        return replace(
            batch,
            history=(batch.history - last) / s,
            target=(batch.target - last) / s,
            state=state,
            differences=differences,
            future=None,
        )

    def decode_coarse(self, coarse: Tensor, system: str) -> Tensor:
        """A model's own coarse prediction ``[m, H, C]`` in the state's units → observables:
        Kuramoto phasor means unchanged, social mean activity ``ℓ·(u/ℓ)``."""
        if system == "social":
            if self.level_scale is None:
                raise ValueError("the social system's coarse prediction needs the level_scale")
            return coarse * self.level_scale
        return coarse

    def decode(self, batch: Batch, prediction: Tensor) -> Tensor:
        """``[n, H]`` normalized prediction ``f`` on raw ``batch`` → field ``x_t0 + s·f``.

        Decoded in (at least) float32 even when ``f`` comes out of bf16/fp16 autocast: an
        unwrapped phase of |θ| ~ 100 in bf16 would be off by ~0.5 rad.
        """
        if self.mode == "none":
            return prediction
        dtype = torch.promote_types(prediction.dtype, torch.float32)
        last = batch.history[:, -1:].to(dtype)
        return last + self.increment_scale * prediction.to(dtype)


@dataclass
class HarnessForward:
    """One forward pass through the harness: what the model saw and said, and the decoded output.

    ``model_batch`` (normalized, or the raw batch for floors), ``output`` (the model's own
    :class:`ModelOutput`, normalized units), ``decoded`` (``prediction`` in field units).
    """

    model_batch: Batch
    output: ModelOutput
    decoded: ModelOutput


class HarnessModel(nn.Module):
    """A registered model behind the harness's normalization: raw batch in, field values out.

    ``normalization=None`` passes raw batches through (floors); the floor's own attributes
    (e.g. the oracle's ``rollout(batch, frames)`` hook, ``fit``, ``clear_cache``) are then
    reachable through the wrapper. Calling it returns the decoded :class:`ModelOutput`, so
    evaluation, rollouts (each step normalizes its current raw window and decodes) and
    coarse aggregation work on field values; :meth:`run` also returns the normalized view
    the training loss needs. A learned model's hooks are *not* forwarded: they would see
    raw batches.
    """

    def __init__(self, model: nn.Module, normalization: Normalization | None) -> None:
        super().__init__()
        self.model = model
        self.normalization = normalization

    @property
    def spec(self):
        return self.model.spec

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)  # parameters, buffers, submodules
        except AttributeError:
            if name != "model" and self.__dict__.get("normalization", 0) is None:
                return getattr(self._modules["model"], name)
            raise

    def run(self, batch: Batch) -> HarnessForward:
        if self.normalization is None:
            output = self.model(batch)
            return HarnessForward(batch, output, output)
        model_batch = self.normalization.normalize(batch)
        output = self.model(model_batch)
        decoded = replace(output, prediction=self.normalization.decode(batch, output.prediction))
        if output.coarse_prediction is not None:
            coarse = self.normalization.decode_coarse(output.coarse_prediction, batch.system)
            decoded = replace(decoded, coarse_prediction=coarse)
        return HarnessForward(model_batch, output, decoded)

    def forward(self, batch: Batch) -> ModelOutput:
        return self.run(batch).decoded


def harness_model(
    model: nn.Module, stats: dict[str, float], mode: NormalizationMode
) -> HarnessModel:
    """Wrap ``model``: floors (``learnable = False``) get raw batches, learned models ``mode``."""
    if not getattr(model, "learnable", True):
        return HarnessModel(model, None)
    return HarnessModel(model, Normalization.from_stats(stats, mode))
