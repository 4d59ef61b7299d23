"""Per-service metrics over time: a partition between Reservation and Point shows, in the bins it
lasts, as Reservation's server time and failures, and nowhere else."""

from __future__ import annotations

from concertsim.api import run
from concertsim.reports.run.service_series_figure import service_series_png


def test_a_partition_shows_in_the_bins_it_lasts() -> None:
    partition = "faults=[{at: 10, kind: partition, target: 'reservation->point', duration: 10}]"
    outcome = run("small-opening", overrides=["workload.users=30", "workload.flash_window=20", partition])
    series = outcome.metrics["series"]
    assert series["bin_seconds"] == 1
    reservation = series["services"]["reservation"]
    during = [v for v in reservation["p95_ms"][11:20] if v is not None]
    before = [v for v in reservation["p95_ms"][:10] if v is not None]
    assert during and before and max(during) > 10 * max(before)  # waiting out call timeouts
    assert sum(reservation["count"]) == sum(1 for r in outcome.result.trace.records
                                            if r.kind == "call.serve" and r.party == "reservation")
    assert service_series_png(series, outcome.result) is not None


def test_a_run_without_requests_draws_no_series_figure() -> None:
    empty = {"bin_seconds": 1, "services": {}, "consumers": {}}
    assert service_series_png(empty, run("small-opening", overrides=["workload.users=1"]).result) is None


def test_retries_over_time_add_up_to_the_retries_per_caller() -> None:
    lost = "faults=[{at: 0, kind: drop, target: reply, duration: 30, match: {message_type: point.use}}]"
    outcome = run("small-opening", overrides=["workload.users=10", lost])
    per_bin = outcome.metrics["series"]["retries"]
    calls = outcome.metrics["reliability"]["calls"]
    assert per_bin and {caller: sum(counts) for caller, counts in per_bin.items()} == {
        caller: sum(e["retries"] for e in endpoints.values()) for caller, endpoints in calls.items()
        if any(e["retries"] for e in endpoints.values())}
