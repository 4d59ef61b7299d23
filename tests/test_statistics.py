"""The intervals and tests behind ``compare`` and ``sweep``, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from concertsim.statistics import mean_interval, paired_difference, rate_difference_p, rate_interval


def test_wilson_interval_of_zero_in_twenty_is_not_degenerate() -> None:
    interval = rate_interval(0, 20)
    assert interval is not None and interval.low == 0.0
    assert interval.high == pytest.approx(0.1611, abs=1e-4)  # z²/(n+z²) for z = 1.96
    assert rate_interval(0, 0) is None


def test_t_interval_of_a_mean() -> None:
    interval = mean_interval([1, 2, 3, 4])
    assert interval is not None and interval.estimate == 2.5
    # sd = 1.291, sem = 0.6455, t(0.975, 3) = 3.182
    assert interval.half_width == pytest.approx(3.182 * 0.6455, rel=1e-3)
    assert mean_interval([7.0]).half_width == 0.0
    assert mean_interval([math.nan]) is None


def test_rates_that_differ_this_much_are_significant_and_equal_ones_are_not() -> None:
    assert rate_difference_p(0, 20, 8, 20) < 0.01
    assert rate_difference_p(3, 20, 3, 20) == 1.0


def test_paired_differences_skip_unknown_pairs_and_all_zero_is_no_difference() -> None:
    interval, p = paired_difference([1, None, 3], [2, 5, 4])
    assert interval is not None and interval.estimate == 1.0 and interval.n == 2
    assert paired_difference([1, 2], [1, 2]) == (mean_interval([0, 0]), 1.0)
