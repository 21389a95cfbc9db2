"""Fixed-step classical Runge–Kutta (RK4) integration of ``dy/dt = rhs(t, y)``.

A system is any object with ``name``, ``initial_state() -> [N] float64`` and
``rhs(t, y) -> [N] float64`` (see :class:`DynamicalSystem`). The time of step ``k``
is ``t = k·dt`` (computed from the step, never accumulated), so a run resumed from
a checkpointed ``(step, state)`` is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable

import numpy as np
import torch

RHS = Callable[[float, np.ndarray], np.ndarray]


@runtime_checkable
class DynamicalSystem(Protocol):
    """What :func:`simulate` integrates: ``dy/dt = rhs(t, y)`` from ``initial_state()``."""

    name: str

    def initial_state(self) -> np.ndarray:
        """The state ``y(0)``, ``[N]`` float64."""
        ...

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """``dy/dt`` at time ``t`` for the state ``y`` ``[N]``; returns a new ``[N]`` array."""
        ...


def rk4_step(rhs: RHS, t: float, y: np.ndarray, dt: float) -> np.ndarray:
    """One classical RK4 step from ``(t, y)`` with step ``dt``; returns ``y(t + dt)`` ``[N]``.

    ``k1 = f(t, y)``, ``k2 = f(t + dt/2, y + dt/2·k1)``, ``k3 = f(t + dt/2, y + dt/2·k2)``,
    ``k4 = f(t + dt, y + dt·k3)``, ``y' = y + dt/6·(k1 + 2k2 + 2k3 + k4)``.
    Global error O(dt⁴). ``y`` is not modified.
    """
    half = 0.5 * dt
    k1 = rhs(t, y)
    k2 = rhs(t + half, y + half * k1)
    k3 = rhs(t + half, y + half * k2)
    k4 = rhs(t + dt, y + dt * k3)
    # acc = k1 + 2·k2 + 2·k3 + k4, built in place to avoid four [N] temporaries.
    k2 += k3
    k2 *= 2.0
    k2 += k1
    k2 += k4
    k2 *= dt / 6.0
    k2 += y
    return k2


@contextlib.contextmanager
def single_threaded_torch() -> Iterator[None]:
    """Run torch ops on one intra-op thread inside the block, then restore the thread count.

    The simulators' kernels are single-threaded (scipy CSR mat-vecs); torch's OpenMP pool
    only adds synchronisation, which costs ~10 ms per op on an oversubscribed machine.
    """
    previous = torch.get_num_threads()
    if previous == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def simulate(
    system: DynamicalSystem,
    state: np.ndarray,
    start_step: int,
    stop_step: int,
    dt: float,
    save_every: int,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Integrate from ``state`` at step ``start_step`` to ``stop_step`` with RK4 steps of ``dt``.

    Yields ``(step, t, state)`` (``t = step·dt``, ``state`` ``[N]`` float64, a fresh array
    the caller may keep) after every step in ``(start_step, stop_step]`` that is a
    multiple of ``save_every``. The input ``state`` is not modified. If the system has a
    ``check_state(step, y)`` method (e.g. non-negative activity), it is called on every
    yielded state and its ``FloatingPointError`` (naming the step and the fix) propagates.
    The steps between two yields run under :func:`single_threaded_torch`; the caller's
    code between yields sees its own thread setting.
    """
    if dt <= 0 or not np.isfinite(dt):
        raise ValueError(f"dt must be a positive finite number, got {dt!r}")
    if save_every < 1:
        raise ValueError(f"save_every must be ≥ 1, got {save_every!r}")
    if not 0 <= start_step <= stop_step:
        raise ValueError(f"need 0 ≤ start_step ≤ stop_step, got {start_step} and {stop_step}")
    y = np.array(state, dtype=np.float64, copy=True)
    if y.ndim != 1:
        raise ValueError(f"state must be a 1-d array [N], got shape {y.shape}")
    check_state = getattr(system, "check_state", None)
    step = start_step
    while step < stop_step:
        stop = min((step // save_every + 1) * save_every, stop_step)  # next save (or the end)
        with single_threaded_torch():
            for k in range(step, stop):
                y = rk4_step(system.rhs, k * dt, y, dt)
        step = stop
        if step % save_every == 0:
            if check_state is not None:
                check_state(step, y)
            yield step, step * dt, y
