"""A run's event budget: a run stops once it would process more simulated events than its budget
before its faults heal, counted the same however the run is sliced, so whether it is over budget is
a function of (scenario, seed, budget); after the heal, a run still busy when its allowance is spent
has not settled (a livelock), and ends judged, not stopped."""

from __future__ import annotations

import pytest

from concertsim.checks import check_run
from concertsim.scenarios.loader import load_builtin
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.run import point_shift
from concertsim.sim.run.runner import OverBudget, RunProgress, run_scenario, settle_allowance
from concertsim.search.rounds import judge
from tests.conftest import small_scenario


def test_a_run_within_its_budget_is_the_run_without_one_and_one_event_less_before_the_heal_stops_it() -> None:
    scenario = small_scenario()
    free = run_scenario(scenario)
    events, before_heal = free.counters["events"], free.counters["events_before_heal"]
    assert events > before_heal > 1000
    exact = run_scenario(scenario, max_events=events)
    assert exact.trace_sha256 == free.trace_sha256 and exact.counters["events"] == events
    assert not exact.phases.out_of_events
    with pytest.raises(OverBudget) as stopped:
        run_scenario(scenario, max_events=before_heal - 1)
    assert stopped.value.limit == before_heal - 1


def test_after_the_heal_a_run_may_do_what_is_left_of_the_budget_and_at_least_the_work_before_it() -> None:
    assert settle_allowance(250_000, 3_000) == 247_000
    assert settle_allowance(250_000, 200_000) == 200_000
    scenario = small_scenario()
    free = run_scenario(scenario)
    # A budget that stops nothing before the heal leaves the settle phase at least as much again,
    # which a backlog made before the heal never needs: the same run.
    tight = run_scenario(scenario, max_events=free.counters["events_before_heal"])
    assert tight.trace_sha256 == free.trace_sha256 and not tight.phases.out_of_events


def _echoing_feeds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two-way replication that ships back the writes it applied from the other store: they echo
    between the Points for ever, with no user left (a livelock)."""
    capture = point_shift.ChangeFeed.capture

    def echoing(feed: point_shift.ChangeFeed, tx: Transaction) -> None:
        if isinstance(tx, point_shift.ReplicaWrite):
            tx.__class__ = Transaction  # the feed no longer knows it applied this write
        capture(feed, tx)

    monkeypatch.setattr(point_shift.ChangeFeed, "capture", echoing)


def test_a_livelock_after_the_heal_spends_its_allowance_and_is_judged_unsettled(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_builtin("point-shift")
    assert run_scenario(scenario, max_events=60_000).phases.settled_at is not None
    _echoing_feeds(monkeypatch)
    looping = run_scenario(scenario, max_events=60_000)
    assert looping.phases.out_of_events and looping.phases.settled_at is None
    before_heal = looping.counters["events_before_heal"]
    assert looping.counters["events"] == before_heal + settle_allowance(60_000, before_heal)
    assert looping.phases.ended_at < looping.phases.heal_at + scenario.settle.deadline
    assert looping.trace.records[-1].kind == "phase.settle_events"
    broken = {v.invariant.id: v for v in check_run(looping, {"sagas-terminate"})}["sagas-terminate"]
    assert broken.violated and f"having processed {looping.counters['events']:,} simulated events" in broken.violations[0].message
    judged = judge(scenario, ("sagas-terminate",), max_events=60_000)
    assert judged.broken and not judged.over_budget


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
