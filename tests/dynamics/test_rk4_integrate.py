"""Fixed-step RK4 integration: order, save schedule, bit-identical resume, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from roma_bench.dynamics.integrate import DynamicalSystem, rk4_step, simulate


class Rotation:
    """``y' = A(t) y`` with a time-dependent rotation: ``y(t) = R(φ(t)) y(0)``, ``φ = t + t²``."""

    name = "rotation"

    def initial_state(self) -> np.ndarray:
        return np.array([1.0, 0.5])

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        rate = 1.0 + 2.0 * t
        return np.array([-rate * y[1], rate * y[0]])

    def exact(self, t: float) -> np.ndarray:
        phi = t + t * t
        c, s = np.cos(phi), np.sin(phi)
        y0 = self.initial_state()
        return np.array([c * y0[0] - s * y0[1], s * y0[0] + c * y0[1]])


def test_rotation_is_a_system() -> None:
    assert isinstance(Rotation(), DynamicalSystem)


def test_rk4_is_fourth_order() -> None:
    system = Rotation()
    errors = []
    for steps in (40, 80, 160):
        *_, (_, t, y) = simulate(system, system.initial_state(), 0, steps, 2.0 / steps, steps)
        assert t == pytest.approx(2.0)
        errors.append(np.abs(y - system.exact(2.0)).max())
    for coarse, fine in itertools.pairwise(errors):
        assert 14.0 < coarse / fine < 18.0


def test_rk4_step_does_not_modify_input() -> None:
    y = np.array([1.0, 2.0])
    out = rk4_step(lambda t, v: -v, 0.0, y, 0.1)
    np.testing.assert_array_equal(y, [1.0, 2.0])
    decay = 1 - 0.1 + 0.1**2 / 2 - 0.1**3 / 6 + 0.1**4 / 24  # RK4's stability polynomial
    np.testing.assert_allclose(out, decay * y, rtol=1e-15)


def test_save_schedule_and_times() -> None:
    system = Rotation()
    frames = list(simulate(system, system.initial_state(), 3, 20, 0.1, 5))
    assert [step for step, _, _ in frames] == [5, 10, 15, 20]
    assert [t for _, t, _ in frames] == [0.5, 1.0, 1.5, 2.0]
    assert frames[0][2] is not frames[1][2]  # each yielded state is its own array
    assert list(simulate(system, system.initial_state(), 4, 4, 0.1, 1)) == []


def test_resume_is_bit_identical() -> None:
    system = Rotation()
    y0 = system.initial_state()
    straight = list(simulate(system, y0, 0, 30, 0.037, 3))
    step, _, checkpoint = straight[3]  # "killed" after step 12
    resumed = straight[:4] + list(simulate(system, checkpoint.copy(), step, 30, 0.037, 3))
    assert len(resumed) == len(straight)
    for (s1, t1, y1), (s2, t2, y2) in zip(straight, resumed, strict=True):
        assert (s1, t1) == (s2, t2)
        assert np.array_equal(y1, y2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": float("nan")}, "dt"),
        ({"save_every": 0}, "save_every"),
        ({"start_step": 5, "stop_step": 2}, "start_step"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict, match: str) -> None:
    args = {"start_step": 0, "stop_step": 10, "dt": 0.1, "save_every": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        next(simulate(Rotation(), Rotation().initial_state(), **args))


def test_check_state_runs_on_saved_frames() -> None:
    class Blowup(Rotation):
        def check_state(self, step: int, y: np.ndarray) -> None:
            if step >= 6:
                raise FloatingPointError(f"bad state at step {step}")

    frames = simulate(Blowup(), Blowup().initial_state(), 0, 10, 0.1, 3)
    assert next(frames)[0] == 3
    with pytest.raises(FloatingPointError, match="step 6"):
        next(frames)


def test_steps_run_single_threaded_and_threads_are_restored() -> None:
    import torch

    seen = []

    class Spy(Rotation):
        def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
            seen.append(torch.get_num_threads())
            return super().rhs(t, y)

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for _ in simulate(Spy(), Spy().initial_state(), 0, 6, 0.1, 3):
            assert torch.get_num_threads() == 2  # the caller's setting between frames
    finally:
        torch.set_num_threads(before)
    assert set(seen) == {1}
