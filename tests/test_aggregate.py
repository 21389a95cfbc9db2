"""The one mean ± std of boards and studies, and its NaN rule."""

from __future__ import annotations

import math

import pytest

from roma_bench.aggregate import finite_values, mean_std


def test_sample_std_over_seeds():
    mean, std = mean_std([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(
        math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    )
    assert mean_std([0.5]) == (0.5, 0.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_value_propagates_unless_dropped_explicitly(bad):
    assert all(math.isnan(x) for x in mean_std([1.0, bad, 3.0]))
    assert all(math.isnan(x) for x in mean_std([]))
    assert mean_std(finite_values([1.0, bad, None, 3.0])) == (2.0, math.sqrt(2.0))
