"""Reservation's state machine: hold, pay, confirm, expire, fail (seed 3.1, 3.2, 4.1, 4.2)."""

from __future__ import annotations

import pytest

from concertsim.models import reservations as r
from concertsim.models.errors import (
    HoldExpired,
    NotReservationOwner,
    ReservationClosed,
    SeatUnavailable,
    UnknownSeat,
)
from concertsim.models.events import ReservationCompleted, ReservationExpired, ReservationFailed, SeatReserved
from concertsim.models.store import CountingIds, MemoryStore

TTL = 10.0


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    r.add_seats(store, date_id=1, seats=3, price=500)
    return store


ids = CountingIds()


def hold(store: MemoryStore, seat: int = 1, user: int = 7, now: float = 0.0) -> r.Reservation:
    held, raised = r.hold_seat(store, ids, user_id=user, date_id=1, seat_no=seat, ttl=TTL, now=now)
    assert isinstance(raised[0], SeatReserved)
    return held


def test_hold_takes_the_seat_until_the_ttl(store: MemoryStore) -> None:
    held = hold(store)
    assert held.hold_expires_at == r.hold_expires_at(0.0, TTL) == 10.0
    seat = store.get(r.SEATS, (1, 1))
    assert (seat.status, seat.reservation_id) == (r.SeatStatus.HELD, held.reservation_id)


def test_a_held_seat_cannot_be_held_again(store: MemoryStore) -> None:
    hold(store)
    with pytest.raises(SeatUnavailable):
        hold(store, user=8)


def test_an_unknown_seat_is_refused(store: MemoryStore) -> None:
    with pytest.raises(UnknownSeat):
        hold(store, seat=99)


def test_a_hold_is_expired_at_exactly_its_expiry_time(store: MemoryStore) -> None:
    held = hold(store)
    assert not r.is_hold_expired(held, 9.999)
    assert r.is_hold_expired(held, 10.0)


def test_confirm_sells_the_seat_and_raises_completed(store: MemoryStore) -> None:
    held = hold(store)
    r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=False)
    raised = r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert isinstance(raised[0], ReservationCompleted)
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.CONFIRMED
    assert store.get(r.SEATS, (1, 1)).status == r.SeatStatus.SOLD
    assert r.confirm(store, reservation_id=held.reservation_id, now=3.0) == []


def test_confirm_after_the_ttl_is_refused(store: MemoryStore) -> None:
    held = hold(store)
    with pytest.raises(HoldExpired):
        r.confirm(store, reservation_id=held.reservation_id, now=10.0)


def test_payment_by_someone_else_is_refused(store: MemoryStore) -> None:
    held = hold(store)
    with pytest.raises(NotReservationOwner):
        r.start_payment(store, reservation_id=held.reservation_id, user_id=8, now=1.0, pending=False)


def test_paying_an_expired_hold_is_refused(store: MemoryStore) -> None:
    held = hold(store)
    with pytest.raises(HoldExpired):
        r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=10.0, pending=False)


def test_sweeper_expires_due_holds_and_frees_their_seats(store: MemoryStore) -> None:
    early, late = hold(store, seat=1, now=0.0), hold(store, seat=2, now=5.0)
    raised = r.expire_due_holds(store, now=10.0)
    assert [e.reservation_id for e in raised] == [early.reservation_id]
    assert isinstance(raised[0], ReservationExpired)
    assert store.get(r.SEATS, (1, 1)).status == r.SeatStatus.AVAILABLE
    assert r.reservation_status(store, late.reservation_id) == r.ReservationStatus.HELD
    with pytest.raises(ReservationClosed):
        r.confirm(store, reservation_id=early.reservation_id, now=10.5)


def test_expiring_a_hold_with_a_pending_payment_fails_that_payment(store: MemoryStore) -> None:
    held = hold(store)
    r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=False)
    raised = r.expire_due_holds(store, now=10.0)
    assert [type(e) for e in raised] == [ReservationExpired, ReservationFailed]


def test_failing_a_payment_releases_the_seat_and_asks_for_a_refund(store: MemoryStore) -> None:
    held = hold(store)
    raised = r.fail_payment(store, reservation_id=held.reservation_id, reason="point-use-unknown", now=1.0)
    assert isinstance(raised[0], ReservationFailed)
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.FAILED
    assert store.get(r.SEATS, (1, 1)).status == r.SeatStatus.AVAILABLE
    assert r.fail_payment(store, reservation_id=held.reservation_id, reason="again", now=2.0), "every call asks"


def test_a_confirmed_reservation_is_never_failed(store: MemoryStore) -> None:
    held = hold(store)
    r.confirm(store, reservation_id=held.reservation_id, now=1.0)
    with pytest.raises(ReservationClosed):
        r.fail_payment(store, reservation_id=held.reservation_id, reason="late", now=2.0)


def test_a_released_seat_can_be_held_by_someone_else(store: MemoryStore) -> None:
    hold(store)
    r.expire_due_holds(store, now=10.0)
    again = hold(store, user=8, now=11.0)
    assert store.get(r.SEATS, (1, 1)).reservation_id == again.reservation_id
