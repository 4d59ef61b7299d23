"""Reservation: seat holds and payments, the hub of both sagas (seed 3.1, 3.2, 4.2.1).

Hold (3.2): check the seat with Concert synchronously, hold it locally, publish SeatReservedEvent.

Payment, ``payment_flow=sync`` (3.1): call Point's "use" synchronously, then confirm locally and
publish ReservationCompletedEvent. If the confirmation is refused (the hold expired meanwhile) or
Point's answer never came (the ambiguous timeout), the payment fails and ReservationFailedEvent asks
Point to refund whatever it deducted (4.2.2).

Payment, ``payment_flow=orchestration``: a persisted saga driven by an orchestrator
(:mod:`concertsim.sim.services.orchestrator`); the client is answered "pending".

Payment, ``payment_flow=choreography`` (4.2.1): ask Point to deduct and answer the client "pending";
Point publishes PointUsedEvent, and Reservation confirms when it consumes it, or fails the payment
(with ReservationFailedEvent) if the hold is gone by then.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models import reservations
from concertsim.models.errors import HoldExpired
from concertsim.models.events import (
    Event,
    EventPayload,
    PointRefunded,
    PointUsed,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
    seat_key,
)
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.infrastructure.network import Failed, Ok, Reply
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services import orchestrator
from concertsim.sim.services.common import Job, every
from concertsim.sim.services.payments import confirm_or_fail, decline, fail, start_or_expire, use_points

__all__ = ["ENDPOINTS", "subscriptions", "jobs", "HANDLED"]

HANDLED = "reservation"
"""The inbox group of the events Reservation's handlers acted on while a migration moves its data
(:mod:`concertsim.sim.run.reservation_migration`): the rows move with the data."""


def hold(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """Hold a seat (seed 3.2). A request repeating an earlier one's ``idempotency_key`` is answered
    with the hold that one made, before Concert is asked (its view may already show the seat held
    by that very hold)."""
    date_id, seat_no, user_id = body["date_id"], body["seat_no"], body["user_id"]
    key = body.get("idempotency_key")
    if key is not None:
        earlier = reservations.hold_for_key(host.db.begin(), key)
        if earlier is not None:
            return _held(earlier)
    seen = yield from host.call(
        "concert", "concert.check_seat", {"date_id": date_id, "seat_no": seat_no}, trace_id,
        key=seat_key(date_id, seat_no), retries=0,
    )
    if isinstance(seen, Failed) and not seen.transient:
        return seen
    if not seen.ok:
        return Failed("dependency-unavailable", "Concert did not answer the seat check", transient=True)
    rules = host.world.scenario.rules

    def work(tx: Transaction, now: float) -> tuple[reservations.Reservation, list[EventPayload]]:
        held, raised = reservations.hold_seat(
            tx, host.world, user_id=user_id, date_id=date_id, seat_no=seat_no, ttl=rules.hold_ttl,
            now=now, idempotency_key=key, max_open_holds=rules.max_open_holds_per_user,
        )
        return held, list(raised)

    held = yield from host.transact(work, trace_id, label="reservation.hold")
    return _held(held)


def _held(held: reservations.Reservation) -> Reply:
    return Ok(
        {
            "reservation_id": held.reservation_id,
            "amount": held.amount,
            "hold_expires_at": held.hold_expires_at,
        }
    )


def pay(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """Pay for a hold (seed 3.1, 4.2.1). Point is asked to deduct under the payment's idempotency
    key, so every repeat is safe. An answer that Point took nothing (a refusal, or "unavailable"
    after every retry the hold had time for) declines the payment and leaves the hold standing; an
    answer that never came leaves the deduction in doubt: the sync flow fails and compensates the
    payment, the choreography flow leaves it to PointUsedEvent or the hold's expiry."""
    reservation_id, user_id = body["reservation_id"], body["user_id"]
    design = host.world.scenario.design
    if design.payment_flow == "orchestration":
        return (yield from orchestrator.start_saga(host, body, trace_id))
    choreography = design.payment_flow == "choreography"

    def start(tx: Transaction, now: float) -> tuple[reservations.Reservation | HoldExpired, list[EventPayload]]:
        return start_or_expire(tx, reservation_id=reservation_id, user_id=user_id, now=now, pending=choreography)

    reservation = yield from host.transact(start, trace_id, label="reservation.start_payment")
    if isinstance(reservation, HoldExpired):
        return Failed(reservation.code, reservation.message)  # answered, not raised: the expiry commits with it
    if reservation.status == reservations.ReservationStatus.CONFIRMED:
        return Ok({"status": "confirmed"})
    used, in_doubt = yield from use_points(host, reservation, trace_id)
    if isinstance(used, Failed) and not in_doubt:
        yield from host.transact(decline(reservation_id), trace_id, label="reservation.decline_payment")
        return used  # Point took nothing; the hold stands and the client may charge and retry
    refused = isinstance(used, Failed) and not used.transient
    if refused:
        return used  # an earlier attempt may still deduct: the payment stays pending for the sweeper
    if choreography:
        return Ok({"status": "pending"})
    if used.ok:
        outcome = yield from host.transact(
            confirm_or_fail(reservation_id), trace_id, label="reservation.confirm"
        )
        return Ok({"status": "confirmed"}) if outcome == "confirmed" else Failed(outcome)
    ended = yield from host.transact(
        fail(reservation_id, "point-use-unknown"), trace_id, label="reservation.fail_payment"
    )
    if ended == "confirmed":
        return Ok({"status": "confirmed"})
    return Failed("payment-failed", "Point did not answer; the payment was failed and compensated")


def status(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """The caller's reservation's status and its payment's (None before any payment; REFUNDED once Point
    gave the points back), so a buyer can learn that a failed payment was refunded."""
    yield from ()
    tx = host.db.begin()
    found = reservations.reservation_status(tx, body["reservation_id"], user_id=body["user_id"])
    paid = reservations.payment_status(tx, body["reservation_id"])
    return Ok({"status": str(found), "payment": None if paid is None else str(paid)})


ENDPOINTS = {"reservation.hold": hold, "reservation.pay": pay, "reservation.get": status}
CALLS = {"reservation.hold": ("concert.check_seat",), "reservation.pay": ("point.use",)}
PUBLISHES = (SeatReserved.TYPE, ReservationCompleted.TYPE, ReservationExpired.TYPE, ReservationFailed.TYPE)


def subscriptions(host: Host) -> dict[str, EventWork]:
    """PointRefundedEvent marks the payment REFUNDED (both flows); in the choreography flow
    PointUsedEvent confirms the reservation, or fails it if the hold is gone. While a migration
    moves Reservation's data (``host.serves`` set), each handler acts only on the store that owns
    it (:func:`_served`)."""
    return {event_type: _served(host, work) for event_type, work in _handlers(host).items()}


def _served(host: Host, work: EventWork) -> EventWork:
    """``work`` as it is, or, while a migration moves Reservation's data, acting only on the store
    that owns the data and only on an event whose :data:`HANDLED` inbox row that store does not
    hold, writing the row with the effect: the rows move with the data, so an event handled before
    the cutover is not handled again after it."""

    def handle(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        if host.serves is None:
            return work(tx, now, event)
        if not host.serves() or tx.is_processed(HANDLED, event.event_id):
            return []
        raised = work(tx, now, event)
        tx.mark_processed(HANDLED, event.event_id)
        return raised

    return handle


def _handlers(host: Host) -> dict[str, EventWork]:
    """The handlers of :func:`subscriptions`, each as the flow has it."""

    def on_point_refunded(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        refunded = event.payload
        assert isinstance(refunded, PointRefunded)
        reservations.record_refund(tx, reservation_id=refunded.reservation_id, now=now)
        return []

    if host.world.scenario.design.payment_flow != "choreography":
        return {PointRefunded.TYPE: on_point_refunded}

    def on_point_used(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        used = event.payload
        assert isinstance(used, PointUsed)
        _, raised = confirm_or_fail(used.reservation_id)(tx, now)
        return raised

    return {PointUsed.TYPE: on_point_used, PointRefunded.TYPE: on_point_refunded}


def jobs(host: Host) -> dict[str, Job]:
    """The hold-expiry sweeper (seed 4.1, problem 3), unless the design switches it off; in the
    orchestration flow, the recovery job that drives on the sagas a crash orphaned."""
    rules = host.world.scenario.rules
    recovery = ({"saga-recovery": every(host, rules.sweep_interval, "reservation.resume_sagas",
                                        orchestrator.resume_sagas)}
                if host.world.scenario.design.payment_flow == "orchestration" else {})
    if not host.world.scenario.design.hold_expiry:
        return recovery

    compensate_by_command = host.world.scenario.design.payment_flow == "orchestration" and (
        host.world.scenario.design.compensation)

    def sweep(host: Host) -> Generator[simpy.Event, Any, None]:
        def work(tx: Transaction, now: float) -> tuple[list[str], list[EventPayload]]:
            raised = list(reservations.expire_due_holds(tx, now=now))
            adopted = []
            if compensate_by_command:
                # Point does not consume ReservationFailedEvent in this flow: the saga commands it.
                for failed in raised:
                    if isinstance(failed, ReservationFailed):
                        saga_id = orchestrator.compensate_expired(
                            host, tx, reservations.payment_id_for(failed.reservation_id), now)
                        adopted += [saga_id] if saga_id is not None else []
            return adopted, raised

        orchestrator.drive(host, (yield from host.transact(work, None, label="reservation.expire_holds")))

    return {"hold-expiry-sweeper": every(host, rules.sweep_interval, "reservation.expire_holds", sweep), **recovery}
