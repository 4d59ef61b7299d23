"""A run's cost is estimated before it runs, and its progress can be watched without changing it."""

from __future__ import annotations

import pytest

from concertsim.scenarios.loader import load_builtin
from concertsim.sim.run.cost import LARGE_RUN_MEMORY, estimate_run_cost, format_bytes, format_seconds, memory_limit
from concertsim.sim.run.runner import PROGRESS_STEPS, RunProgress, run_scenario
from tests.conftest import small_scenario


def test_watching_progress_does_not_change_the_trace() -> None:
    scenario = small_scenario()
    seen: list[RunProgress] = []
    watched = run_scenario(scenario, on_progress=seen.append)
    assert watched.trace_sha256 == run_scenario(scenario).trace_sha256
    workload = [p for p in seen if p.phase == "workload"]
    assert len(workload) == PROGRESS_STEPS
    assert [p.now for p in workload] == sorted(p.now for p in workload)
    assert workload[-1].now == scenario.workload.duration
    assert workload[-1].users_arrived == workload[-1].users_expected == scenario.workload.users


def test_the_estimate_of_a_default_run_is_within_a_factor_of_two_of_the_run() -> None:
    scenario = load_builtin("ticket-opening")
    estimate = estimate_run_cost(scenario)
    records = len(run_scenario(scenario).trace.lines())
    assert records / 2 <= estimate.records <= records * 2


def test_a_million_users_behind_a_waiting_room_of_a_hundred_is_far_beyond_the_limit() -> None:
    estimate = estimate_run_cost(load_builtin("ticket-opening", ["workload.users=1000000"]))
    assert estimate.waiting_users > 990_000
    assert estimate.memory_bytes > 100 * LARGE_RUN_MEMORY
    assert memory_limit() <= LARGE_RUN_MEMORY
    assert "1,000,000 users" in estimate.describe()


def test_the_estimate_grows_with_users_and_shrinks_with_a_larger_waiting_room() -> None:
    costs = [estimate_run_cost(load_builtin("ticket-opening", [f"workload.users={n}"])).records for n in (400, 3000, 20000)]
    assert costs == sorted(costs)
    roomy = estimate_run_cost(load_builtin("ticket-opening", ["workload.users=20000", "rules.queue_capacity=20000"]))
    assert roomy.polls == 0 and roomy.records < costs[-1] / 10


def test_steady_arrivals_count_only_the_users_that_can_arrive() -> None:
    estimate = estimate_run_cost(load_builtin("steady-state", ["workload.users=1000000"]))
    assert estimate.users == 301  # 0.5 users/s for 600 s


def test_sizes_and_durations_read_like_a_person_would_write_them() -> None:
    assert format_bytes(850 * 2**20) == "850 MB" and format_bytes(12.34 * 2**30) == "12.3 GB"
    assert format_seconds(40) == "40 s" and format_seconds(720) == "12 min" and format_seconds(12_600) == "3.5 h"


def test_auto_streams_the_trace_only_of_a_run_that_would_not_fit_comfortably_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``auto`` keeps the default opening's trace in memory and streams the 100,000-user opening's,
    whose estimate with the trace in memory is far over a quarter of the memory a run may take; a named
    mode is taken as named."""
    from concertsim.sim.run import cost

    opening = load_builtin("ticket-opening")
    crowd = load_builtin("ticket-opening", ["workload.users=100000", "workload.flash_window=120",
                                            "concerts.dates=20", "concerts.seats_per_date=500",
                                            "rules.queue_capacity=5000"])
    monkeypatch.setattr(cost, "memory_limit", lambda: LARGE_RUN_MEMORY)
    assert cost.chosen_trace_mode(opening) == "memory"
    assert cost.chosen_trace_mode(crowd) == "stream"
    assert cost.chosen_trace_mode(crowd, "memory") == "memory"
    # The same opening at 40,000 users is estimated at 1.2 GiB with its trace in memory; measured
    # at 60,000 (estimated 1.8 GiB) it took 4.3 GB: overloaded services' retries are not counted.
    assert cost.chosen_trace_mode(crowd.model_copy(update={
        "workload": crowd.workload.model_copy(update={"users": 40_000})})) == "stream"
    assert cost.chosen_trace_mode(opening, "stream") == "stream"
    needed = estimate_run_cost(opening).memory_bytes
    monkeypatch.setattr(cost, "memory_limit", lambda: int(needed / cost.COMFORTABLE_SHARE) - 1)
    assert cost.chosen_trace_mode(opening) == "stream"
