"""The liveness rule: which fault may excuse a broken liveness promise (``checks.fault_relevance``),
and the honest buyers ``honest-buyer-confirmed`` judges."""

from __future__ import annotations

import json

import pytest

from concertsim.api import resolve_scenario
from concertsim.checks import check_run
from concertsim.checks.fault_relevance import changes_nothing
from concertsim.checks.clients.liveness import honest_payments
from concertsim.scenarios.schema import FaultSpec
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario

POINT_TOO_SLOW = 'services.point.endpoint_times={point.use: {kind: constant, value: 0.7}}'
"""Point's deduction takes longer than Reservation's call timeout: no payment can be confirmed."""


def _run(*overrides: str, faults: list[str] = ()) -> RunResult:
    sets = [POINT_TOO_SLOW, *overrides]
    if faults:
        sets.append(f"faults=[{', '.join(faults)}]")
    return run_scenario(resolve_scenario("small-opening", sets))


def _violations(result: RunResult, invariant: str) -> list:
    return next(iter(check_run(result, [invariant]))).violations


def test_a_fault_that_changes_nothing_excuses_no_payment() -> None:
    result = _run(faults=["{at: 0, kind: slow, target: data_platform, params: {factor: 1.0}}"])
    found = _violations(result, "honest-buyer-confirmed")
    assert len(found) == len(honest_payments(result)) > 0


def test_a_fault_on_a_service_off_the_payments_path_excuses_no_payment() -> None:
    result = _run(faults=["{at: 0, kind: slow, target: data_platform, params: {factor: 5.0}}"])
    assert _violations(result, "honest-buyer-confirmed")


def test_a_message_fault_that_struck_only_other_messages_excuses_no_payment() -> None:
    result = _run(faults=[
        "{at: 0, kind: delay, target: delivery, match: {message_type: SeatReservedEvent, group: concert},"
        " params: {seconds: 2}}"
    ])
    assert any(r.kind == "fault.strike" for r in result.trace)
    assert _violations(result, "honest-buyer-confirmed")


def test_a_fault_that_could_affect_a_payment_excuses_it_and_only_while_it_could() -> None:
    result = _run(faults=[
        "{at: 0, kind: slow, target: data_platform, params: {factor: 5.0}}",
        "{at: 20, kind: crash, target: point, duration: 60}",
    ])
    found = _violations(result, "honest-buyer-confirmed")
    assert found, "the payments before Point's crash are judged"
    crash_at = 20.0
    for violation in found:
        pay = violation.evidence["pay"]
        assert pay["complete_at"] < crash_at


def test_a_message_fault_on_the_deduction_excuses_the_payments_it_struck() -> None:
    result = _run(faults=[
        "{at: 0, kind: delay, target: request, match: {message_type: point.use}, params: {seconds: 0.1}}"
    ])
    assert honest_payments(result) == []
    assert _violations(result, "honest-buyer-confirmed") == []


@pytest.mark.parametrize(
    ("fault", "nothing"),
    [
        ({"kind": "slow", "target": "point", "params": {"factor": 1.0}}, True),
        ({"kind": "slow", "target": "point", "params": {"factor": 0.5}}, True),
        ({"kind": "slow", "target": "point", "params": {"factor": 5.0}}, False),
        ({"kind": "clock_skew", "target": "point", "params": {"seconds": 0.0}}, True),
        ({"kind": "commit_failure", "target": "point", "params": {"rate": 0.0}}, True),
        ({"kind": "delay", "target": "request", "params": {"seconds": 0.0}}, True),
        ({"kind": "drop", "target": "request", "match": {"rate": 0.0}}, True),
        ({"kind": "drop", "target": "request"}, False),
        ({"kind": "crash", "target": "point"}, False),
    ],
)
def test_a_fault_that_changes_nothing_is_recognised(fault: dict, nothing: bool) -> None:
    assert changes_nothing(FaultSpec.model_validate({"at": 0, **fault})) is nothing


def test_buyers_refused_for_a_dead_token_while_holding_a_seat_are_judged() -> None:
    """Queue handles SeatReservedEvent (the keep-alive of a holding buyer's token) 45 s late,
    buyers think 40 s over a 2-minute hold and tokens idle out after 30 s: with no fault at all,
    every buyer whose balance read and payment were refused ``token-not-active`` is wronged."""
    result = run_scenario(resolve_scenario("small-opening", [
        "workload.users=30", "workload.think_time={kind: constant, value: 40}", "rules.hold_ttl=120",
        "rules.token_idle_ttl=30",
        "services.queue.endpoint_times=" + json.dumps({"queue<-SeatReservedEvent": {"kind": "constant", "value": 45}}),
    ]))
    refused = {op.detail["reservation_id"] for op in result.history
               if op.action == "pay" and op.error == "token-not-active"}
    reported = {v.saga for v in _violations(result, "honest-buyer-confirmed")}
    assert refused <= reported


def test_a_buyer_kept_from_the_points_by_a_refused_balance_read_is_judged() -> None:
    """A buyer with no points whose balance read is refused cannot top up; refused the payment
    too, they are wronged as much as one who had the points."""
    import copy

    from concertsim.models import points, reservations
    from concertsim.models.reservations import ReservationStatus

    clean = run_scenario(resolve_scenario("small-opening", []))
    hold, pay, reservation = next(
        (h, p, r) for h, p, r in honest_payments(clean)
        if any(op.action == "charge" and op.user_id == p.user_id for op in clean.history)
    )
    result = copy.deepcopy(clean)
    for op in result.history:
        if op.user_id == pay.user_id and op.action in ("balance", "pay"):
            op.outcome, op.error = "fail", "token-not-active"
    result.history = [op for op in result.history if not (op.user_id == pay.user_id and op.action == "charge")]
    ledger = result.state["point"][points.LEDGER]
    for key in [k for k, e in ledger.items() if e.user_id == pay.user_id and points.entry_delta(e) > 0]:
        del ledger[key]
    booked = result.state["reservation"][reservations.RESERVATIONS]
    booked[reservation.reservation_id].status = ReservationStatus.EXPIRED
    assert [v.saga for v in _violations(result, "honest-buyer-confirmed")] == [reservation.reservation_id]
