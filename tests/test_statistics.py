"""The intervals and tests behind ``compare`` and ``sweep``, against values computed by hand."""

from __future__ import annotations

import math

import pytest

from concertsim.statistics import mean_interval, paired_difference, rate_difference_p, rate_interval, thin_denominator


def test_wilson_interval_of_zero_in_twenty_is_not_degenerate() -> None:
    interval = rate_interval(0, 20)
    assert interval is not None and interval.low == 0.0
    assert interval.high == pytest.approx(0.1611, abs=1e-4)  # z²/(n+z²) for z = 1.96
    assert rate_interval(0, 0) is None


def test_bootstrap_interval_of_a_mean_is_deterministic_and_inside_the_values() -> None:
    interval = mean_interval([1, 2, 3, 4])
    assert interval is not None and interval.estimate == 2.5
    assert 1 <= interval.low < 2.5 < interval.high <= 4 and interval.method == "bootstrap-expanded-percentile"
    assert mean_interval([1, 2, 3, 4]) == interval  # a seeded generator: the same values, the same interval
    assert mean_interval([7.0]).half_width == 0.0
    assert mean_interval([math.nan]) is None


def test_an_interval_of_a_count_or_a_non_negative_measure_never_goes_below_zero() -> None:
    # Half the seeds confirm one user, half none: a t interval is [-0.07, 1.07].
    interval = mean_interval([0, 1, 0, 1, 0, 1], domain="count")
    assert interval is not None and interval.estimate == 0.5
    assert 0.0 <= interval.low < 0.5 < interval.high <= 1.0
    skewed = mean_interval([0.1, 0.2, 0.1, 6.0], domain="non_negative")  # one slow recovery
    assert skewed is not None and skewed.low >= 0.0
    assert mean_interval([0.2, 0.9, 0.4], domain="proportion").high <= 1.0


def test_a_ratio_over_few_events_is_thin() -> None:
    assert thin_denominator([1, 0, 2]) == 1.0
    assert thin_denominator([]) == 0.0
    assert thin_denominator([12, 9, 15]) is None


def test_rates_that_differ_this_much_are_significant_and_equal_ones_are_not() -> None:
    assert rate_difference_p(0, 20, 8, 20) < 0.01
    assert rate_difference_p(3, 20, 3, 20) == 1.0


def test_paired_differences_skip_unknown_pairs_and_all_zero_is_no_difference() -> None:
    interval, p = paired_difference([1, None, 3], [2, 5, 4])
    assert interval is not None and interval.estimate == 1.0 and interval.n == 2
    assert paired_difference([1, 2], [1, 2]) == (mean_interval([0, 0]), 1.0)
