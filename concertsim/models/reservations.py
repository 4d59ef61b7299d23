"""Reservation: seats on the booking side, holds, payments and their state machine (seed 3.1,
3.2, 4.1, 4.2.1).

A reservation is HELD when its seat is taken for ``ttl`` seconds, and ends in exactly one of
CONFIRMED (paid), EXPIRED (unpaid when the hold ran out) or FAILED (the payment could not be
completed, and its points are to be refunded). PAYMENT_PENDING marks a hold whose payment was asked
for in the choreography flow, until it is confirmed, failed or declined.

A payment is PENDING while a request to Point may still deduct for it; COMPLETED when the
reservation is confirmed; FAILED when its points are to be refunded; DECLINED when Point answered
every request for it that it took nothing (refused, or unavailable with nothing written): the hold
stands and may be paid again, and an expiring hold still asks Point to refund it or leave a
tombstone (a copy of a request may deduct after the answers); REFUNDED once
Point announced (PointRefundedEvent) that it gave back points taken for the reservation, so the
buyer can learn it. The rule "a hold expires after its TTL" lives in
:func:`hold_expires_at` and :func:`is_hold_expired`, and nowhere else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from concertsim.models.errors import (
    HoldExpired,
    HoldLimitReached,
    NotReservationOwner,
    ReservationClosed,
    ReservationNotFound,
    SalesNotOpen,
    SeatUnavailable,
    UnknownSeat,
)
from concertsim.models.events import ReservationCompleted, ReservationExpired, ReservationFailed, SeatReserved
from concertsim.models.store import IdSource, Store

__all__ = [
    "expire_hold",
    "SEATS",
    "RESERVATIONS",
    "PAYMENTS",
    "OPEN_HOLDS",
    "HOLDS_BY_KEY",
    "USER_HOLDS",
    "SALES_OPEN",
    "SeatStatus",
    "ReservationStatus",
    "PaymentStatus",
    "BookingSeat",
    "Reservation",
    "Payment",
    "add_seats",
    "hold_expires_at",
    "is_hold_expired",
    "hold_seat",
    "hold_for_key",
    "open_holds_of",
    "payment_id_for",
    "start_payment",
    "decline_payment",
    "record_refund",
    "payment_status",
    "confirm",
    "fail_payment",
    "expire_due_holds",
    "reservation_status",
]

SEATS = "seats"
RESERVATIONS = "reservations"
PAYMENTS = "payments"
OPEN_HOLDS = "open_holds"
HOLDS_BY_KEY = "holds_by_key"
USER_HOLDS = "user_holds"
SALES_OPEN = "sales_open"


class SeatStatus(enum.StrEnum):
    AVAILABLE = "AVAILABLE"
    HELD = "HELD"
    SOLD = "SOLD"


class ReservationStatus(enum.StrEnum):
    HELD = "HELD"
    PAYMENT_PENDING = "PAYMENT_PENDING"
    CONFIRMED = "CONFIRMED"
    EXPIRED = "EXPIRED"
    FAILED = "FAILED"


class PaymentStatus(enum.StrEnum):
    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"


_OPEN = (ReservationStatus.HELD, ReservationStatus.PAYMENT_PENDING)


@dataclass(slots=True)
class BookingSeat:
    date_id: int
    seat_no: int
    status: SeatStatus
    reservation_id: str | None
    price: int


@dataclass(slots=True)
class Reservation:
    reservation_id: str
    user_id: int
    date_id: int
    seat_no: int
    amount: int
    held_at: float
    hold_expires_at: float
    status: ReservationStatus
    confirmed_at: float | None = None
    ended_at: float | None = None
    failure_reason: str | None = None


@dataclass(slots=True)
class Payment:
    payment_id: str
    reservation_id: str
    user_id: int
    amount: int
    status: PaymentStatus
    created_at: float
    completed_at: float | None = None
    requests_out: int = 0
    """Requests to Point started for this payment whose answer Reservation has not taken in; a
    crash leaves them counted, so only an answered payment is ever DECLINED."""


def add_seats(store: Store, *, date_id: int, seats: int, price: int, opens_at: float = 0.0) -> None:
    """Put seats 1..``seats`` of ``date_id`` on sale from ``opens_at``, each AVAILABLE at ``price``."""
    store.put(SALES_OPEN, date_id, opens_at)
    for seat_no in range(1, seats + 1):
        store.put(SEATS, (date_id, seat_no), BookingSeat(date_id, seat_no, SeatStatus.AVAILABLE, None, price))


def hold_expires_at(held_at: float, ttl: float) -> float:
    """A hold expires ``ttl`` seconds after it was taken (seed 1, 4.1 problem 3)."""
    return held_at + ttl


def is_hold_expired(reservation: Reservation, now: float) -> bool:
    """Whether the hold has run out at ``now`` (at the expiry instant itself, it has). Every
    decision about expiry (paying, confirming, sweeping) asks this."""
    return now >= reservation.hold_expires_at


def _get(store: Store, reservation_id: str) -> Reservation:
    reservation = store.get_for_update(RESERVATIONS, reservation_id)
    if reservation is None:
        raise ReservationNotFound(reservation_id)
    return reservation


def hold_for_key(store: Store, idempotency_key: str) -> Reservation | None:
    """The reservation an earlier hold request with ``idempotency_key`` made, or None."""
    reservation_id = store.get(HOLDS_BY_KEY, idempotency_key)
    return None if reservation_id is None else store.get(RESERVATIONS, reservation_id)


def open_holds_of(store: Store, user_id: int, now: float) -> list[str]:
    """The reservations of ``user_id`` still holding a seat at ``now``: open and not run out."""
    held = []
    for reservation_id in store.get(USER_HOLDS, user_id) or ():
        reservation = store.get(RESERVATIONS, reservation_id)
        if reservation.status in _OPEN and not is_hold_expired(reservation, now):
            held.append(reservation_id)
    return held


def hold_seat(
    store: Store, ids: IdSource, *, user_id: int, date_id: int, seat_no: int, ttl: float, now: float,
    idempotency_key: str | None = None, max_open_holds: int | None = None,
) -> tuple[Reservation, list[SeatReserved]]:
    """Hold a free seat for ``user_id`` for ``ttl`` seconds (seed 3.2).

    A request whose ``idempotency_key`` was seen returns the reservation it made and raises no
    event. Refuses :class:`SalesNotOpen` before the date's sale opens, :class:`HoldLimitReached` when the user already has ``max_open_holds`` open
    holds (:func:`open_holds_of`), :class:`UnknownSeat` and :class:`SeatUnavailable`. The key and
    the user's holds are read for update, so two concurrent requests with one key, or two holds
    of one user, conflict instead of both succeeding."""
    if idempotency_key is not None:
        seen = store.get_for_update(HOLDS_BY_KEY, idempotency_key)
        if seen is not None:
            return store.get(RESERVATIONS, seen), []
    opens_at = store.get(SALES_OPEN, date_id)
    if opens_at is not None and now < opens_at:
        raise SalesNotOpen(date_id, opens_at, now)
    users_holds = store.get_for_update(USER_HOLDS, user_id) or ()
    if max_open_holds is not None:
        still_open = open_holds_of(store, user_id, now)
        if len(still_open) >= max_open_holds:
            raise HoldLimitReached(user_id, len(still_open), max_open_holds)
    seat = store.get_for_update(SEATS, (date_id, seat_no))
    if seat is None:
        raise UnknownSeat(date_id, seat_no)
    if seat.status != SeatStatus.AVAILABLE:
        raise SeatUnavailable(date_id, seat_no, str(seat.status))
    reservation = Reservation(
        ids.next_id("res"), user_id, date_id, seat_no, seat.price, now, hold_expires_at(now, ttl),
        ReservationStatus.HELD,
    )
    seat.status, seat.reservation_id = SeatStatus.HELD, reservation.reservation_id
    store.put(SEATS, (date_id, seat_no), seat)
    store.put(RESERVATIONS, reservation.reservation_id, reservation)
    store.put(OPEN_HOLDS, reservation.reservation_id, reservation.hold_expires_at)
    store.put(USER_HOLDS, user_id, (*users_holds, reservation.reservation_id))
    if idempotency_key is not None:
        store.put(HOLDS_BY_KEY, idempotency_key, reservation.reservation_id)
    return reservation, [
        SeatReserved(reservation_id=reservation.reservation_id, user_id=user_id, date_id=date_id,
                     seat_no=seat_no, hold_expires_at=reservation.hold_expires_at)
    ]


def payment_id_for(reservation_id: str) -> str:
    """One payment per reservation; its id is also the idempotency key of the point use."""
    return f"pay-{reservation_id}"


def start_payment(store: Store, *, reservation_id: str, user_id: int, now: float, pending: bool) -> Reservation:
    """Begin a request to pay for a held reservation (seed 3.1): its one payment is PENDING (created,
    or reopened if it was DECLINED) with one more request out, and with ``pending`` (the
    choreography flow, seed 4.2.1) the reservation becomes PAYMENT_PENDING.

    A confirmed reservation is returned unchanged (a retried payment is answered, not repeated).
    Refuses :class:`NotReservationOwner`, :class:`ReservationClosed` (expired or failed) and
    :class:`HoldExpired` (the TTL ran out, swept or not)."""
    reservation = _get(store, reservation_id)
    if reservation.user_id != user_id:
        raise NotReservationOwner(reservation_id, user_id)
    if reservation.status == ReservationStatus.CONFIRMED:
        return reservation
    if reservation.status not in _OPEN:
        raise ReservationClosed(reservation_id, str(reservation.status))
    if is_hold_expired(reservation, now):
        raise HoldExpired(reservation_id, reservation.hold_expires_at, now)
    payment_id = payment_id_for(reservation_id)
    payment = store.get_for_update(PAYMENTS, payment_id) or Payment(
        payment_id, reservation_id, user_id, reservation.amount, PaymentStatus.PENDING, now
    )
    payment.status, payment.completed_at = PaymentStatus.PENDING, None
    payment.requests_out += 1
    store.put(PAYMENTS, payment_id, payment)
    if pending and reservation.status != ReservationStatus.PAYMENT_PENDING:
        reservation.status = ReservationStatus.PAYMENT_PENDING
        store.put(RESERVATIONS, reservation_id, reservation)
    return reservation


def decline_payment(store: Store, *, reservation_id: str, now: float) -> PaymentStatus | None:
    """Point answered one request for this payment that it took nothing (a refusal, or "unavailable"
    with nothing written). Once every request started is answered so, the payment is DECLINED and
    a PAYMENT_PENDING reservation is HELD again: the buyer may pay again, and the sweeper does not
    compensate it. A payment no longer PENDING is left as it is (the sweeper may have failed it when
    its hold expired while the request was out). Returns the payment's status after (None if none)."""
    payment = store.get_for_update(PAYMENTS, payment_id_for(reservation_id))
    if payment is None or payment.status != PaymentStatus.PENDING:
        return None if payment is None else payment.status
    payment.requests_out = max(0, payment.requests_out - 1)
    if payment.requests_out == 0:
        payment.status, payment.completed_at = PaymentStatus.DECLINED, now
        reservation = _get(store, reservation_id)
        if reservation.status == ReservationStatus.PAYMENT_PENDING:
            reservation.status = ReservationStatus.HELD
            store.put(RESERVATIONS, reservation_id, reservation)
    store.put(PAYMENTS, payment.payment_id, payment)
    return payment.status


def record_refund(store: Store, *, reservation_id: str, now: float) -> None:
    """Point gave back points taken for ``reservation_id`` (seed 4.2.2: PointRefundedEvent): its
    payment is REFUNDED, unless it COMPLETED (a confirmed reservation keeps its payment; a refund
    for it is a defect that ``no-orphaned-deduction`` reports). Idempotent."""
    reservation = _get(store, reservation_id)
    payment_id = payment_id_for(reservation_id)
    payment = store.get_for_update(PAYMENTS, payment_id)
    if payment is not None and payment.status in (PaymentStatus.COMPLETED, PaymentStatus.REFUNDED):
        return
    if payment is None:
        payment = Payment(payment_id, reservation_id, reservation.user_id, reservation.amount,
                          PaymentStatus.REFUNDED, now)
    payment.status, payment.completed_at = PaymentStatus.REFUNDED, now
    store.put(PAYMENTS, payment_id, payment)


def payment_status(store: Store, reservation_id: str) -> PaymentStatus | None:
    """The status of the reservation's payment, or None if no payment was asked for."""
    payment = store.get(PAYMENTS, payment_id_for(reservation_id))
    return None if payment is None else payment.status


def _set_payment(store: Store, reservation: Reservation, status: PaymentStatus, now: float) -> None:
    payment_id = payment_id_for(reservation.reservation_id)
    payment = store.get_for_update(PAYMENTS, payment_id) or Payment(
        payment_id, reservation.reservation_id, reservation.user_id, reservation.amount, status, now
    )
    payment.status = status
    payment.completed_at = now
    store.put(PAYMENTS, payment_id, payment)


def _release_seat(store: Store, reservation: Reservation) -> None:
    address = (reservation.date_id, reservation.seat_no)
    seat = store.get_for_update(SEATS, address)
    if seat is not None and seat.reservation_id == reservation.reservation_id:
        seat.status, seat.reservation_id = SeatStatus.AVAILABLE, None
        store.put(SEATS, address, seat)


def confirm(store: Store, *, reservation_id: str, now: float) -> list[ReservationCompleted]:
    """Confirm a paid reservation: the seat is sold (seed 3.1, 4.2.1). Idempotent; refuses a
    reservation that is closed or whose hold has expired."""
    reservation = _get(store, reservation_id)
    if reservation.status == ReservationStatus.CONFIRMED:
        return []
    if reservation.status not in _OPEN:
        raise ReservationClosed(reservation_id, str(reservation.status))
    if is_hold_expired(reservation, now):
        raise HoldExpired(reservation_id, reservation.hold_expires_at, now)
    reservation.status = ReservationStatus.CONFIRMED
    reservation.confirmed_at = now
    store.put(RESERVATIONS, reservation_id, reservation)
    address = (reservation.date_id, reservation.seat_no)
    seat = store.get_for_update(SEATS, address)
    seat.status, seat.reservation_id = SeatStatus.SOLD, reservation_id
    store.put(SEATS, address, seat)
    _set_payment(store, reservation, PaymentStatus.COMPLETED, now)
    store.delete(OPEN_HOLDS, reservation_id)
    return [
        ReservationCompleted(reservation_id=reservation_id, user_id=reservation.user_id,
                             date_id=reservation.date_id, seat_no=reservation.seat_no,
                             amount=reservation.amount, confirmed_at=now)
    ]


def _failed_event(reservation: Reservation, reason: str) -> ReservationFailed:
    return ReservationFailed(reservation_id=reservation.reservation_id, user_id=reservation.user_id,
                             date_id=reservation.date_id, seat_no=reservation.seat_no,
                             amount=reservation.amount, reason=reason)


def fail_payment(store: Store, *, reservation_id: str, reason: str, now: float) -> list[ReservationFailed]:
    """Give up on a payment whose points may have been used (seed 4.2.2).

    An open reservation ends FAILED, its payment FAILED and its seat released; an EXPIRED one stays
    EXPIRED (its seat was released already). The returned ReservationFailedEvent asks Point to
    refund whatever it deducted. It is raised on every call, a FAILED reservation included, since
    each call may follow another deduction (a duplicated or late "use"); Point refunds each
    deduction once. A confirmed reservation is never failed: :class:`ReservationClosed`.
    """
    reservation = _get(store, reservation_id)
    if reservation.status == ReservationStatus.CONFIRMED:
        raise ReservationClosed(reservation_id, str(reservation.status))
    if reservation.status in _OPEN:
        reservation.status = ReservationStatus.FAILED
        reservation.ended_at = now
        reservation.failure_reason = reason
        store.put(RESERVATIONS, reservation_id, reservation)
        _release_seat(store, reservation)
        store.delete(OPEN_HOLDS, reservation_id)
        _set_payment(store, reservation, PaymentStatus.FAILED, now)
    return [_failed_event(reservation, reason)]


def expire_due_holds(store: Store, *, now: float) -> list[ReservationExpired | ReservationFailed]:
    """Expire every open hold whose TTL has run out and release its seat (seed 4.1, problem 3),
    in the order of (hold_expires_at, reservation_id).

    A hold whose payment was attempted and never completed also fails that payment, and its
    ReservationFailedEvent asks Point to refund whatever it deducted under the payment's key, or to
    leave a tombstone that refuses a deduction arriving later. That holds for a PENDING payment (the
    service failed between the deduction and the confirmation) and for a DECLINED one: Point
    answered each request that it took nothing, but a copy of a request (a network duplicate, a
    mesh retry) may still be travelling and deduct after the decline.
    """
    raised: list[ReservationExpired | ReservationFailed] = []
    for _, reservation_id in sorted((store.get(OPEN_HOLDS, rid), rid) for rid in store.keys(OPEN_HOLDS)):
        if not is_hold_expired(store.get(RESERVATIONS, reservation_id), now):
            break
        raised.extend(expire_hold(store, reservation_id=reservation_id, now=now))
    return raised


def expire_hold(store: Store, *, reservation_id: str, now: float) -> list[ReservationExpired | ReservationFailed]:
    """Expire one hold whose TTL has run out, as :func:`expire_due_holds` does; nothing if it is
    no longer open. The sweeper expires holds so, and so does a payment refused because the hold
    ran out: a refusal the buyer is told must be final, and a hold left open would let a copy of the
    same request pay it once the service's clock reads earlier (a clock stepped back)."""
    reservation = _get(store, reservation_id)
    if reservation.status not in _OPEN:
        return []
    reservation.status = ReservationStatus.EXPIRED
    reservation.ended_at = now
    store.put(RESERVATIONS, reservation_id, reservation)
    _release_seat(store, reservation)
    store.delete(OPEN_HOLDS, reservation_id)
    raised: list[ReservationExpired | ReservationFailed] = [
        ReservationExpired(reservation_id=reservation_id, user_id=reservation.user_id,
                           date_id=reservation.date_id, seat_no=reservation.seat_no)
    ]
    payment = store.get_for_update(PAYMENTS, payment_id_for(reservation_id))
    if payment is not None and payment.status == PaymentStatus.PENDING:
        reason = "hold-expired-during-payment"
    elif payment is not None and payment.status == PaymentStatus.DECLINED:
        reason = "hold-expired-after-declined-payment"  # every request answered; a copy may still deduct
    else:
        return raised
    _set_payment(store, reservation, PaymentStatus.FAILED, now)
    raised.append(_failed_event(reservation, reason))
    return raised


def reservation_status(store: Store, reservation_id: str, *, user_id: int | None = None) -> ReservationStatus:
    """The reservation's status; with ``user_id`` (a buyer asking) refuses
    :class:`NotReservationOwner` for another user's reservation."""
    reservation = store.get(RESERVATIONS, reservation_id)
    if reservation is None:
        raise ReservationNotFound(reservation_id)
    if user_id is not None and reservation.user_id != user_id:
        raise NotReservationOwner(reservation_id, user_id)
    return reservation.status
