"""The steps of a payment that Reservation takes, shared by the flows (``reservation.pay``) and
the payment saga orchestrator: asking Point to deduct, with retries while the hold has time, and
the local transactions that decline, confirm or fail a payment."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models import reservations
from concertsim.models.errors import HoldExpired, ReservationClosed
from concertsim.models.events import EventPayload
from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.network import Failed, Reply, Timeout
from concertsim.sim.infrastructure.storage import Transaction

__all__ = ["start_or_expire", "use_points", "decline", "confirm_or_fail", "fail", "MAX_BACKOFF"]


def start_or_expire(
    tx: Transaction, *, reservation_id: str, user_id: int, now: float, pending: bool
) -> tuple[reservations.Reservation | HoldExpired, list[EventPayload]]:
    """Begin a payment (:func:`~concertsim.models.reservations.start_payment`), or, if its hold ran
    out, expire the hold in the same transaction and return the refusal, for the caller to *answer*
    (a raised refusal would discard the transaction, the expiry with it): the buyer is told
    "hold-expired" only once no copy of the request can pay the hold later (a copy served after
    the service's clock was stepped back would find time left)."""
    try:
        return reservations.start_payment(tx, reservation_id=reservation_id, user_id=user_id, now=now,
                                          pending=pending), []
    except HoldExpired as refusal:
        return refusal, list(reservations.expire_hold(tx, reservation_id=reservation_id, now=now))


def use_points(
    host: Host, reservation: reservations.Reservation, trace_id: str | None, *, until_hold_expires: bool = False
) -> Generator[simpy.Event, Any, tuple[Reply, bool]]:
    """Ask Point to deduct for ``reservation``; returns Point's last reply and whether any request
    went unanswered (its deduction in doubt). "Unavailable" (Point wrote nothing) is retried while
    the hold has time for another attempt; a timeout is retried ``network.call_retries`` times, or,
    ``until_hold_expires``, like "unavailable" (a saga's activity retried until its deadline)."""
    spec = host.world.scenario.network
    reservation_id, user_id = reservation.reservation_id, reservation.user_id
    request = {
        "user_id": user_id,
        "amount": reservation.amount,
        "reservation_id": reservation_id,
        "idempotency_key": reservations.payment_id_for(reservation_id),
    }
    in_doubt, timeouts, attempt = False, 0, 0
    while True:
        used = yield from host.call("point", "point.use", request, trace_id, key=f"user-{user_id}", retries=0)
        attempt += 1
        if isinstance(used, Timeout):
            in_doubt, timeouts = True, timeouts + 1
            if timeouts > spec.call_retries and not until_hold_expires:
                return used, in_doubt
        elif not (isinstance(used, Failed) and used.transient):
            return used, in_doubt
        backoff = min(spec.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF)
        if host.clock() + backoff + spec.call_timeout >= reservation.hold_expires_at:
            return used, in_doubt
        yield host.env.timeout(backoff)


MAX_BACKOFF = 2.0


def decline(reservation_id: str) -> Any:
    """Decline the payment (Point took nothing); the outcome is the payment's status after."""

    def work(tx: Transaction, now: float) -> tuple[reservations.PaymentStatus | None, list[EventPayload]]:
        return reservations.decline_payment(tx, reservation_id=reservation_id, now=now), []

    return work


def confirm_or_fail(reservation_id: str) -> Any:
    """Confirm the paid reservation, or fail the payment if the hold is gone (seed 4.2.2)."""

    def work(tx: Transaction, now: float) -> tuple[str, list[EventPayload]]:
        try:
            return "confirmed", list(reservations.confirm(tx, reservation_id=reservation_id, now=now))
        except (HoldExpired, ReservationClosed) as refusal:
            failed = reservations.fail_payment(
                tx, reservation_id=reservation_id, reason=refusal.code, now=now
            )
            return refusal.code, list(failed)

    return work


def fail(reservation_id: str, reason: str) -> Any:
    """Fail the payment and ask Point to refund it; its outcome is "confirmed" instead if the
    reservation was confirmed meanwhile (another copy of the payment got through), so that this
    copy answers what happened rather than a failure."""

    def work(tx: Transaction, now: float) -> tuple[str, list[EventPayload]]:
        try:
            failed = reservations.fail_payment(tx, reservation_id=reservation_id, reason=reason, now=now)
        except ReservationClosed:
            return "confirmed", []  # nothing to undo
        return "failed", list(failed)

    return work
