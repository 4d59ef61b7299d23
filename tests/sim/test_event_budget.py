"""A run's event budget: a run stops once it would process more simulated events than its budget,
counted the same however the run is sliced, so whether it is over budget is a function of
(scenario, seed, budget)."""

from __future__ import annotations

import pytest

from concertsim.sim.run.runner import OverBudget, RunProgress, run_scenario
from tests.conftest import small_scenario


def test_a_run_within_its_budget_is_the_run_without_one_and_one_event_less_stops_it() -> None:
    scenario = small_scenario()
    free = run_scenario(scenario)
    events = free.counters["events"]
    assert events > 1000
    exact = run_scenario(scenario, max_events=events)
    assert exact.trace_sha256 == free.trace_sha256 and exact.counters["events"] == events
    with pytest.raises(OverBudget) as stopped:
        run_scenario(scenario, max_events=events - 1)
    assert stopped.value.limit == events - 1


def test_progress_reports_slice_the_run_without_changing_its_event_count() -> None:
    scenario = small_scenario()
    reports: list[RunProgress] = []
    sliced = run_scenario(scenario, on_progress=reports.append)
    assert len(reports) > 100
    assert sliced.counters["events"] == run_scenario(scenario).counters["events"]
    stops = []
    for on_progress in (None, reports.append):
        with pytest.raises(OverBudget) as stopped:
            run_scenario(scenario, on_progress=on_progress, max_events=sliced.counters["events"] // 2)
        stops.append(stopped.value.now)
    assert stops[0] == stops[1]
