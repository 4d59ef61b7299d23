"""``calls-wait-their-timeout`` and ``seat-view-timely``: each holds on a clean run and fires on a
run that shows the broken promise."""

from __future__ import annotations

import copy

import pytest

from concertsim.api import resolve_scenario
from concertsim.checks import check_run
from concertsim.checks.clients.call_timeouts import timeout_of
from concertsim.models import concert
from concertsim.models.events import ReservationExpired, ReservationFailed
from concertsim.models.reservations import SeatStatus
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario

STALE_RELEASE = (
    "design.payment_flow=choreography", "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
    "faults=[{at: 0, kind: delay, target: delivery, match: {message_type: PointUsedEvent}, params: {seconds: 30}}]",
)
"""Payments confirmed 30 s late, after their 20 s holds ran out and the seats were held again: the
failed payments' ReservationFailedEvents reach Concert after the seats' next holds."""


def _violations(result: RunResult, invariant: str) -> list:
    return next(iter(check_run(result, [invariant]))).violations


@pytest.fixture(scope="module")
def timed_out() -> RunResult:
    """A run in which Reservation's calls to Point time out (their replies are lost for a while)."""
    return run_scenario(resolve_scenario("small-opening", [
        "faults=[{at: 0, kind: drop, target: reply, duration: 10, match: {message_type: point.use}}]",
    ]))


def test_each_caller_waits_its_own_timeout(timed_out: RunResult) -> None:
    scenario = timed_out.scenario
    assert timeout_of(scenario, "client", "POST /api/v1/payments") == scenario.workload.client_timeout
    assert timeout_of(scenario, "gateway", "reservation.pay") == scenario.network.gateway_timeout
    assert timeout_of(scenario, "gateway", "queue.check") == scenario.network.call_timeout
    assert timeout_of(scenario, "reservation#2", "point.use") == scenario.network.call_timeout


def test_calls_that_waited_their_timeout_hold(timed_out: RunResult) -> None:
    assert any(r.data["outcome"] == "timeout" for r in timed_out.trace.of_kind("call.return"))
    assert _violations(timed_out, "calls-wait-their-timeout") == []


def test_a_call_given_up_before_its_timeout_is_caught(timed_out: RunResult) -> None:
    result = copy.deepcopy(timed_out)
    sent = {r.data["call"]: r for r in result.trace.of_kind("call.send")}
    gave_up = next(r for r in result.trace.of_kind("call.return")
                   if r.data["outcome"] == "timeout" and r.data["endpoint"] == "point.use")
    gave_up.at = sent[gave_up.data["call"]].at + result.scenario.network.call_timeout / 2
    found = _violations(result, "calls-wait-their-timeout")
    assert [v.evidence["call"] for v in found] == [gave_up.data["call"]]
    assert found[0].records == (sent[gave_up.data["call"]].seq, gave_up.seq)


def test_a_gateway_that_waits_only_the_service_timeout_is_caught() -> None:
    """The gateway gives a hold the service-to-service timeout instead of its own: a hold delayed
    half a second is answered "unknown" although it went through."""
    result = run_scenario(resolve_scenario("small-opening", [
        "faults=[{at: 0, kind: delay, target: request, match: {message_type: reservation.hold},"
        " params: {seconds: 0.5}}]",
    ]))
    assert _violations(result, "calls-wait-their-timeout") == []
    damaged = copy.deepcopy(result)
    sent = {r.data["call"]: r for r in damaged.trace.of_kind("call.send")}
    for record in damaged.trace.of_kind("call.return"):
        send = sent[record.data["call"]]
        if record.party == "gateway" and record.data["endpoint"] == "reservation.hold" and record.at - send.at > 0.5:
            record.at, record.data["outcome"] = send.at + damaged.scenario.network.call_timeout, "timeout"
    assert _violations(damaged, "calls-wait-their-timeout")


def _frees_any_held_seat(store, payload, now, *, count_versions=False):  # type: ignore[no-untyped-def]
    """Concert's projection with a release that frees whichever reservation holds the seat."""
    if isinstance(payload, (ReservationExpired, ReservationFailed)):
        seat = store.get_for_update(concert.SEAT_VIEW, (payload.date_id, payload.seat_no))
        if seat.status == SeatStatus.HELD and seat.reservation_id != payload.reservation_id:
            payload = payload.model_copy(update={"reservation_id": seat.reservation_id})
    return _PROJECT(store, payload, now, count_versions=count_versions)


_PROJECT = concert.apply_seat_event


def test_a_view_that_follows_its_events_holds() -> None:
    result = run_scenario(resolve_scenario("small-opening", list(STALE_RELEASE)))
    assert _violations(result, "seat-view-timely") == []
    assert _violations(result, "seat-view-converges") == []


def test_a_stale_release_that_frees_another_buyers_hold_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(concert, "apply_seat_event", _frees_any_held_seat)
    result = run_scenario(resolve_scenario("small-opening", list(STALE_RELEASE)))
    found = _violations(result, "seat-view-timely")
    assert found
    assert _violations(result, "seat-view-converges") == [], "the view converges: only its history shows it"
    for violation in found:
        assert violation.evidence["until"] > violation.evidence["since"]
        assert violation.saga is not None
