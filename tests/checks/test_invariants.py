"""Each invariant holds on a clean run and fires, with evidence, on a run whose records show the
broken promise. The broken records are made by editing a clean run's final state or trace the way
the corresponding bug would have left them."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from concertsim.checks import REGISTRY, check_run
from concertsim.models import concert, data_platform, points, reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.sim.run.result import Phases, RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


@pytest.fixture(scope="module")
def clean() -> RunResult:
    return run_scenario(small_scenario("workload.initial_points=50000"))


def broken(clean: RunResult) -> RunResult:
    """A deep copy of ``clean`` to damage."""
    return copy.deepcopy(clean)


def violations(result: RunResult, invariant: str) -> list:
    return next(v for v in check_run(result, [invariant])).violations


def confirmed_reservation(result: RunResult) -> reservations.Reservation:
    return next(
        r for r in result.table("reservation", reservations.RESERVATIONS).values()
        if r.status == ReservationStatus.CONFIRMED
    )


def test_every_invariant_holds_on_a_clean_run(clean: RunResult) -> None:
    assert {v.invariant.id: v.violations[:1] for v in check_run(clean) if v.violated} == {}
    assert len(REGISTRY) == 33


def test_double_refund_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    use = next(iter(result.table("point", points.USES).values()))
    ledger = result.state["point"][points.LEDGER]
    for n in (1, 2):
        ledger[f"led-x{n}-9999{n}"] = points.LedgerEntry(f"led-x{n}-9999{n}", use.user_id, "refund", use.amount, 99.0, use.reservation_id, use.use_id)
    found = violations(result, "no-double-refund")
    assert found and found[0].evidence["use_id"] == use.use_id


def test_unbalanced_ledger_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    account = next(iter(result.table("point", points.ACCOUNTS).values()))
    account.balance += 1
    assert violations(result, "points-ledger-balanced")


def test_negative_balance_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    ledger = result.state["point"][points.LEDGER]
    ledger["led-99999"] = points.LedgerEntry("led-99999", 1, "use", 10**9, 99.0, "res-x", "use-x")
    assert violations(result, "points-never-negative")


def test_orphaned_deduction_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    r = confirmed_reservation(result)
    r.status = ReservationStatus.FAILED
    found = violations(result, "no-orphaned-deduction")
    assert found[0].saga == r.reservation_id
    assert found[0].evidence["unrefunded_uses"]


def test_free_ticket_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    r = confirmed_reservation(result)
    for use in result.table("point", points.USES).values():
        if use.reservation_id == r.reservation_id:
            use.refunded_at = 99.0
    assert "free ticket" in violations(result, "no-orphaned-deduction")[0].message


def test_double_booking_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    first, second = [r for r in result.table("reservation", reservations.RESERVATIONS).values()
                      if r.status == ReservationStatus.CONFIRMED][:2]
    second.date_id, second.seat_no = first.date_id, first.seat_no
    assert violations(result, "no-double-booking")


def test_unreleased_hold_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    r = next(r for r in result.table("reservation", reservations.RESERVATIONS).values()
             if r.status == ReservationStatus.EXPIRED)
    r.status = ReservationStatus.HELD
    assert violations(result, "seats-released-on-expiry")[0].saga == r.reservation_id


def test_hold_released_late_without_a_fault_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    r = next(r for r in result.table("reservation", reservations.RESERVATIONS).values()
             if r.status == ReservationStatus.EXPIRED)
    r.ended_at = r.hold_expires_at + 3 * result.scenario.rules.sweep_interval
    found = violations(result, "seats-released-on-expiry")
    assert [v.evidence["reservation_id"] for v in found] == [r.reservation_id]

    result.fault_windows.append({"index": 0, "kind": "crash", "target": "reservation",
                                 "start": r.held_at + 1, "end": r.held_at + 2})
    assert violations(result, "seats-released-on-expiry") == [], "a fault meanwhile may explain the delay"


def test_seat_view_divergence_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    r = confirmed_reservation(result)
    view = result.state["concert"][concert.SEAT_VIEW][(r.date_id, r.seat_no)]
    view.status = SeatStatus.HELD
    assert violations(result, "seat-view-converges")


def test_ranking_divergence_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    tally = next(iter(result.table("concert", concert.TALLIES).values()))
    tally.sold_count += 1
    assert violations(result, "ranking-converges")


def test_data_platform_duplicate_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    collected = result.state["data_platform"][data_platform.COLLECTED]
    record = next(iter(collected.values()))
    collected["dp-dup"] = replace(record, record_id="dp-dup")
    assert violations(result, "data-platform-exactly-once")[0].evidence["collected"] == 2


def test_lost_event_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    handled = next(r for r in result.trace.records if r.kind == "consumer.handled")
    handled.kind = "consumer.dropped"
    found = violations(result, "no-lost-events")
    assert found[0].evidence["event_id"] == handled.data["event_id"]


def test_event_parked_for_good_is_caught(clean: RunResult) -> None:
    from concertsim.models.events import PAYLOAD_TYPES, Event
    from concertsim.sim.messaging.kafka import DeadLetter

    result = broken(clean)
    raised = next(r for r in result.trace.of_kind("event.raised"))
    event = Event.wrap(
        PAYLOAD_TYPES[raised.data["type"]].model_validate(raised.data["payload"]), event_id=raised.data["event_id"],
        occurred_at=raised.at, key=raised.data["key"], trace_id=raised.trace_id or "t",
    )
    result.dead_letters.append(DeadLetter("concert", "reservation-events", 0, 0, event, "poison: always fails", 12.5))
    found = violations(result, "dead-letters-drain")
    assert [(v.evidence["event_id"], v.evidence["group"]) for v in found] == [(event.event_id, "concert")]


def test_queue_over_capacity_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    result.scenario = result.scenario.model_copy(
        update={"rules": result.scenario.rules.model_copy(update={"queue_capacity": 1})}
    )
    assert violations(result, "queue-capacity")


def test_reservation_without_admission_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    for record in result.trace.records:
        if record.kind == "call.serve" and record.data["endpoint"] == "queue.check":
            record.data["outcome"] = "token-not-active"
    assert any("without the gateway admitting" in v.message for v in violations(result, "queue-capacity"))


def test_dishonoured_client_outcome_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    op = next(op for op in result.history if op.action == "pay" and op.outcome == "ok")
    result.state["reservation"][reservations.RESERVATIONS][op.detail["reservation_id"]].status = ReservationStatus.EXPIRED
    assert any(v.evidence["op"]["op_id"] == op.op_id for v in violations(result, "client-outcomes-honoured"))


def test_saga_that_never_settles_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    result.phases = Phases(result.phases.workload_end, result.phases.heal_at, None, result.phases.ended_at)
    assert violations(result, "sagas-terminate")



def test_duplicate_hold_from_one_request_is_caught(clean: RunResult) -> None:
    result = broken(clean)
    hold_op = next(op for op in result.history if op.action == "hold" and op.outcome == "ok")
    made = next(r for r in result.trace.of_kind("event.raised")
                if r.data["type"] == "SeatReservedEvent" and r.trace_id == hold_op.op_id)
    ghost = copy.deepcopy(made)
    ghost.data["payload"]["reservation_id"] = "res-ghost"
    ghost.data["payload"]["seat_no"] = 99
    result.trace.records.insert(result.trace.records.index(made) + 1, ghost)
    found = violations(result, "no-duplicate-holds")
    assert {v.evidence.get("reservation_id") for v in found} >= {"res-ghost"}
    assert any("made 2 reservations" in v.message for v in found)


@pytest.fixture(scope="module")
def charging() -> RunResult:
    """A clean run in which users top up their points."""
    return run_scenario(small_scenario("workload.initial_points=0"))


def test_a_charge_credited_twice_is_caught(charging: RunResult) -> None:
    assert violations(charging, "charge-exactly-once") == []
    result = broken(charging)
    ledger = result.state["point"][points.LEDGER]
    entry = next(e for e in ledger.values() if e.kind == "charge")
    ledger["led-99998"] = replace(entry, entry_id="led-99998")
    result.state["point"][points.ACCOUNTS][entry.user_id].balance += entry.amount
    found = violations(result, "charge-exactly-once")
    assert found and "credited 2 time(s)" in found[0].message


def test_a_charge_no_client_asked_for_is_caught(charging: RunResult) -> None:
    result = broken(charging)
    ledger = result.state["point"][points.LEDGER]
    ledger["led-99997"] = points.LedgerEntry("led-99997", 1, "charge", 10, 5.0)
    found = violations(result, "charge-exactly-once")
    assert found and "no client made" in found[0].message


def test_an_honest_buyer_left_unconfirmed_without_a_fault_is_caught(clean: RunResult) -> None:
    from concertsim.checks.clients.liveness import honest_payments

    judged = honest_payments(clean)
    assert judged
    result = broken(clean)
    _, pay, reservation = judged[0]
    result.state["reservation"][reservations.RESERVATIONS][reservation.reservation_id].status = ReservationStatus.EXPIRED
    found = violations(result, "honest-buyer-confirmed")
    assert [v.saga for v in found] == [reservation.reservation_id]


def test_an_honest_buyer_is_not_judged_while_a_fault_or_its_aftermath_lasts(clean: RunResult) -> None:
    from concertsim.checks.clients.liveness import honest_payments

    from concertsim.scenarios.schema import FaultSpec

    hold, pay, reservation = honest_payments(clean)[0]
    result = broken(clean)
    result.scenario = result.scenario.model_copy(
        update={"faults": (FaultSpec(at=hold.invoke_at - 1.0, kind="crash", target="point", duration=0.5),)}
    )
    result.fault_windows.append({"index": 0, "kind": "crash", "target": "point",
                                 "start": hold.invoke_at - 1.0, "end": hold.invoke_at - 0.5})
    assert reservation.reservation_id not in {r.reservation_id for _, _, r in honest_payments(result)}


@pytest.fixture(scope="module")
def refunding() -> RunResult:
    """A run in which failed payments are refunded."""
    from pathlib import Path

    from concertsim.scenarios.loader import load_scenario

    cases = Path(__file__).parents[1] / "properties" / "cases"
    return run_scenario(load_scenario(cases / "reply-lost-after-deduction.yaml"))


def test_a_refund_the_buyer_cannot_see_is_caught(refunding: RunResult) -> None:
    assert violations(refunding, "refunds-visible") == []
    result = broken(refunding)
    payment = next(p for p in result.table("reservation", reservations.PAYMENTS).values()
                   if p.status == reservations.PaymentStatus.REFUNDED)
    payment.status = reservations.PaymentStatus.FAILED
    found = violations(result, "refunds-visible")
    assert [v.saga for v in found] == [payment.reservation_id]
