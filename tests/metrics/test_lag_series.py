"""The lag series of a read model, checked by hand on a few intervals."""

from __future__ import annotations

from concertsim.metrics.lag_series import MAX_BINS, lag_series


def test_peak_pending_and_oldest_lag_per_second() -> None:
    # A change pending from 0.5 s to 2.5 s; one from 1.2 s to 1.3 s; one from 3.0 s never caught up;
    # one caught up the moment it happened (never pending).
    series = lag_series([(0.5, 2.5), (1.2, 1.3), (3.0, None), (4.2, 4.2)], run_ended_at=5.0)
    assert series["bin_seconds"] == 1.0
    assert series["peak_pending"] == [1, 2, 1, 1, 1]
    assert series["oldest_lag_ms"] == [500.0, 1500.0, 2000.0, 1000.0, 2000.0]


def test_a_change_caught_up_as_another_happens_does_not_overlap_it() -> None:
    series = lag_series([(0.2, 0.6), (0.6, 0.9)], run_ended_at=1.0)
    assert series["peak_pending"] == [1]
    assert series["oldest_lag_ms"] == [400.0]


def test_no_changes_give_a_flat_series() -> None:
    series = lag_series([], run_ended_at=2.5)
    assert series == {"bin_seconds": 1.0, "peak_pending": [0, 0, 0], "oldest_lag_ms": [0.0, 0.0, 0.0]}


def test_long_runs_get_wider_bins() -> None:
    series = lag_series([(10.0, 20.0)], run_ended_at=3 * MAX_BINS)
    assert series["bin_seconds"] == 3.0
    assert len(series["peak_pending"]) == MAX_BINS
    assert series["peak_pending"][2:8] == [0, 1, 1, 1, 1, 0]  # bins from 6 s to 24 s
    assert series["oldest_lag_ms"][2:8] == [0.0, 2000.0, 5000.0, 8000.0, 10000.0, 0.0]
