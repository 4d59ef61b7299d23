"""Reservation's state machine: hold, pay, confirm, expire, fail (seed 3.1, 3.2, 4.1, 4.2)."""

from __future__ import annotations

import pytest

from concertsim.models import reservations as r
from concertsim.models.errors import (
    HoldExpired,
    NotReservationOwner,
    ReservationClosed,
    ReservationNotFound,
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


@pytest.fixture
def ids() -> CountingIds:
    return CountingIds()


@pytest.fixture
def hold(store: MemoryStore, ids: CountingIds):
    def hold(seat: int = 1, user: int = 7, now: float = 0.0) -> r.Reservation:
        held, _ = r.hold_seat(store, ids, user_id=user, date_id=1, seat_no=seat, ttl=TTL, now=now)
        return held

    return hold


def pay(store: MemoryStore, held: r.Reservation, now: float = 1.0, pending: bool = False) -> r.Reservation:
    return r.start_payment(store, reservation_id=held.reservation_id, user_id=held.user_id, now=now, pending=pending)


def seat(store: MemoryStore, seat_no: int = 1) -> r.BookingSeat:
    return store.get(r.SEATS, (1, seat_no))


def test_add_seats_puts_every_seat_on_sale_at_its_price(store: MemoryStore) -> None:
    assert [store.get(r.SEATS, (1, n)) for n in (1, 2, 3)] == [
        r.BookingSeat(1, n, r.SeatStatus.AVAILABLE, None, 500) for n in (1, 2, 3)
    ]


def test_hold_takes_the_seat_until_the_ttl_and_raises_seat_reserved(store: MemoryStore, ids: CountingIds) -> None:
    held, raised = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=2.0)
    assert held.hold_expires_at == r.hold_expires_at(2.0, TTL) == 12.0
    assert (held.status, held.amount) == (r.ReservationStatus.HELD, 500)
    assert (seat(store).status, seat(store).reservation_id) == (r.SeatStatus.HELD, held.reservation_id)
    assert store.get(r.OPEN_HOLDS, held.reservation_id) == 12.0
    assert raised == [SeatReserved(reservation_id=held.reservation_id, user_id=7, date_id=1, seat_no=1,
                                   hold_expires_at=12.0)]


def test_a_held_seat_cannot_be_held_again(store: MemoryStore, hold) -> None:
    hold()
    with pytest.raises(SeatUnavailable) as refused:
        hold(user=8)
    assert refused.value.status == "HELD"


def test_a_sold_seat_cannot_be_held(store: MemoryStore, hold) -> None:
    r.confirm(store, reservation_id=hold().reservation_id, now=1.0)
    with pytest.raises(SeatUnavailable):
        hold(user=8, now=2.0)


def test_an_unknown_seat_is_refused(hold) -> None:
    with pytest.raises(UnknownSeat):
        hold(seat=99)


def test_a_hold_is_expired_at_exactly_its_expiry_time(hold) -> None:
    held = hold()
    assert not r.is_hold_expired(held, 9.999)
    assert r.is_hold_expired(held, 10.0)


def test_start_payment_creates_one_pending_payment(store: MemoryStore, hold) -> None:
    held = hold()
    assert pay(store, held, now=1.0).status == r.ReservationStatus.HELD
    pay(store, held, now=2.0)
    payment = store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id))
    assert (payment.status, payment.created_at, payment.amount) == (r.PaymentStatus.PENDING, 1.0, 500)
    assert list(store.keys(r.PAYMENTS)) == [r.payment_id_for(held.reservation_id)]


def test_start_payment_in_the_choreography_flow_marks_the_reservation_pending(store: MemoryStore, hold) -> None:
    held = hold()
    assert pay(store, held, pending=True).status == r.ReservationStatus.PAYMENT_PENDING
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.PAYMENT_PENDING


def test_a_retried_payment_of_a_confirmed_reservation_is_answered_unchanged(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held)
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert pay(store, held, now=30.0).status == r.ReservationStatus.CONFIRMED


def test_payment_by_someone_else_is_refused(store: MemoryStore, hold) -> None:
    held = hold()
    with pytest.raises(NotReservationOwner):
        r.start_payment(store, reservation_id=held.reservation_id, user_id=8, now=1.0, pending=False)


def test_payment_of_an_unknown_reservation_is_refused(store: MemoryStore) -> None:
    with pytest.raises(ReservationNotFound):
        r.start_payment(store, reservation_id="res-x", user_id=7, now=1.0, pending=False)


def test_paying_a_hold_at_exactly_its_expiry_time_is_refused(store: MemoryStore, hold) -> None:
    held = hold()
    with pytest.raises(HoldExpired):
        pay(store, held, now=held.hold_expires_at)
    assert store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id)) is None


@pytest.mark.parametrize("close", ["expire", "fail"])
def test_paying_a_closed_reservation_is_refused(store: MemoryStore, hold, close: str) -> None:
    held = hold()
    if close == "expire":
        r.expire_due_holds(store, now=TTL)
    else:
        r.fail_payment(store, reservation_id=held.reservation_id, reason="x", now=1.0)
    with pytest.raises(ReservationClosed):
        pay(store, held, now=1.0)


def test_confirm_sells_the_seat_and_raises_completed(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held)
    raised = r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert raised == [ReservationCompleted(reservation_id=held.reservation_id, user_id=7, date_id=1, seat_no=1,
                                           amount=500, confirmed_at=2.0)]
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.CONFIRMED
    assert store.get(r.RESERVATIONS, held.reservation_id).confirmed_at == 2.0
    assert (seat(store).status, seat(store).reservation_id) == (r.SeatStatus.SOLD, held.reservation_id)
    assert store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id)).status == r.PaymentStatus.COMPLETED
    assert store.get(r.OPEN_HOLDS, held.reservation_id) is None


def test_confirm_is_idempotent(store: MemoryStore, hold) -> None:
    held = hold()
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert r.confirm(store, reservation_id=held.reservation_id, now=3.0) == []
    assert store.get(r.RESERVATIONS, held.reservation_id).confirmed_at == 2.0


def test_confirm_at_exactly_the_expiry_time_is_refused_even_before_the_sweep(store: MemoryStore, hold) -> None:
    held = hold()
    with pytest.raises(HoldExpired):
        r.confirm(store, reservation_id=held.reservation_id, now=held.hold_expires_at)
    assert seat(store).status == r.SeatStatus.HELD


def test_confirm_of_an_expired_reservation_is_refused(store: MemoryStore, hold) -> None:
    held = hold()
    r.expire_due_holds(store, now=TTL)
    with pytest.raises(ReservationClosed):
        r.confirm(store, reservation_id=held.reservation_id, now=10.5)


def test_sweeper_expires_due_holds_and_frees_their_seats(store: MemoryStore, hold) -> None:
    early, late = hold(seat=1, now=0.0), hold(seat=2, now=5.0)
    raised = r.expire_due_holds(store, now=10.0)
    assert raised == [ReservationExpired(reservation_id=early.reservation_id, user_id=7, date_id=1, seat_no=1)]
    assert (seat(store).status, seat(store).reservation_id) == (r.SeatStatus.AVAILABLE, None)
    assert r.reservation_status(store, early.reservation_id) == r.ReservationStatus.EXPIRED
    assert r.reservation_status(store, late.reservation_id) == r.ReservationStatus.HELD
    assert list(store.keys(r.OPEN_HOLDS)) == [late.reservation_id]
    assert r.expire_due_holds(store, now=10.0) == []


def test_sweeper_expires_in_order_of_expiry_then_id(store: MemoryStore, hold) -> None:
    third, first, second = hold(seat=1, now=3.0), hold(seat=2, now=1.0), hold(seat=3, now=1.0)
    raised = r.expire_due_holds(store, now=20.0)
    assert [e.reservation_id for e in raised] == sorted(
        [first.reservation_id, second.reservation_id]) + [third.reservation_id]


def test_expiring_a_hold_with_a_pending_payment_fails_that_payment(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, pending=True)
    raised = r.expire_due_holds(store, now=10.0)
    assert [type(e) for e in raised] == [ReservationExpired, ReservationFailed]
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.EXPIRED
    assert store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id)).status == r.PaymentStatus.FAILED


def test_failing_a_payment_releases_the_seat_and_asks_for_a_refund(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held)
    raised = r.fail_payment(store, reservation_id=held.reservation_id, reason="point-use-unknown", now=1.0)
    assert raised == [ReservationFailed(reservation_id=held.reservation_id, user_id=7, date_id=1, seat_no=1,
                                        amount=500, reason="point-use-unknown")]
    failed = store.get(r.RESERVATIONS, held.reservation_id)
    assert (failed.status, failed.ended_at, failed.failure_reason) == (r.ReservationStatus.FAILED, 1.0,
                                                                        "point-use-unknown")
    assert (seat(store).status, seat(store).reservation_id) == (r.SeatStatus.AVAILABLE, None)
    assert store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id)).status == r.PaymentStatus.FAILED
    assert store.get(r.OPEN_HOLDS, held.reservation_id) is None


def test_failing_a_failed_payment_again_asks_for_a_refund_again_and_changes_nothing(
    store: MemoryStore, hold
) -> None:
    held = hold()
    r.fail_payment(store, reservation_id=held.reservation_id, reason="first", now=1.0)
    again = r.fail_payment(store, reservation_id=held.reservation_id, reason="again", now=2.0)
    assert [e.reason for e in again] == ["again"]
    assert store.get(r.RESERVATIONS, held.reservation_id).failure_reason == "first"


def test_failing_an_expired_reservation_keeps_it_expired_and_leaves_the_new_holder_alone(
    store: MemoryStore, hold
) -> None:
    held = hold()
    r.expire_due_holds(store, now=TTL)
    newcomer = hold(user=8, now=11.0)
    raised = r.fail_payment(store, reservation_id=held.reservation_id, reason="hold-expired", now=12.0)
    assert [e.reservation_id for e in raised] == [held.reservation_id]
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.EXPIRED
    assert seat(store).reservation_id == newcomer.reservation_id


def test_a_confirmed_reservation_is_never_failed(store: MemoryStore, hold) -> None:
    held = hold()
    r.confirm(store, reservation_id=held.reservation_id, now=1.0)
    with pytest.raises(ReservationClosed):
        r.fail_payment(store, reservation_id=held.reservation_id, reason="late", now=2.0)
    assert seat(store).status == r.SeatStatus.SOLD


def test_a_released_seat_can_be_held_by_someone_else(store: MemoryStore, hold) -> None:
    hold()
    r.expire_due_holds(store, now=10.0)
    again = hold(user=8, now=11.0)
    assert seat(store).reservation_id == again.reservation_id


def test_status_of_an_unknown_reservation_is_refused(store: MemoryStore) -> None:
    with pytest.raises(ReservationNotFound):
        r.reservation_status(store, "res-x")


def test_a_hold_request_repeated_with_its_key_returns_the_first_hold(store: MemoryStore, ids: CountingIds) -> None:
    first, raised = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=0.0,
                                idempotency_key="op-1")
    again, raised_again = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=2, ttl=TTL, now=1.0,
                                      idempotency_key="op-1")
    assert again.reservation_id == first.reservation_id and raised and raised_again == []
    assert store.get(r.SEATS, (1, 2)).status == r.SeatStatus.AVAILABLE
    assert r.hold_for_key(store, "op-1").reservation_id == first.reservation_id


def test_a_user_may_not_hold_more_seats_than_the_limit(store: MemoryStore, ids: CountingIds) -> None:
    from concertsim.models.errors import HoldLimitReached

    r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=0.0, max_open_holds=1)
    with pytest.raises(HoldLimitReached):
        r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=2, ttl=TTL, now=1.0, max_open_holds=1)
    r.hold_seat(store, ids, user_id=8, date_id=1, seat_no=2, ttl=TTL, now=1.0, max_open_holds=1)
    # A hold that ran out no longer counts, swept or not.
    r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=3, ttl=TTL, now=TTL, max_open_holds=1)
    assert len(r.open_holds_of(store, 7, TTL)) == 1


def test_a_payment_declined_on_every_request_reopens_the_hold_and_is_compensated_at_expiry(store: MemoryStore, hold) -> None:
    held = hold()
    r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=True)
    r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=2.0, pending=True)
    r.decline_payment(store, reservation_id=held.reservation_id, now=3.0)
    payment = store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id))
    assert payment.status == r.PaymentStatus.PENDING  # the other request may still deduct
    r.decline_payment(store, reservation_id=held.reservation_id, now=4.0)
    assert store.get(r.PAYMENTS, payment.payment_id).status == r.PaymentStatus.DECLINED
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.HELD
    raised = r.expire_due_holds(store, now=TTL)
    # A copy of a declined request may still deduct: Point is asked to refund or leave a tombstone.
    assert [type(e) for e in raised] == [ReservationExpired, ReservationFailed]
    assert raised[1].reason == "hold-expired-after-declined-payment"
    assert store.get(r.PAYMENTS, payment.payment_id).status == r.PaymentStatus.FAILED
    # Paying again reopens it.
    again = hold(seat=2, user=8, now=TTL)
    r.start_payment(store, reservation_id=again.reservation_id, user_id=8, now=TTL + 1, pending=False)
    r.decline_payment(store, reservation_id=again.reservation_id, now=TTL + 2)
    r.start_payment(store, reservation_id=again.reservation_id, user_id=8, now=TTL + 3, pending=False)
    assert store.get(r.PAYMENTS, r.payment_id_for(again.reservation_id)).status == r.PaymentStatus.PENDING


def test_a_refund_announced_by_point_shows_on_the_payment(store: MemoryStore, hold) -> None:
    held = hold()
    r.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=False)
    r.fail_payment(store, reservation_id=held.reservation_id, reason="point-use-unknown", now=2.0)
    assert r.payment_status(store, held.reservation_id) == r.PaymentStatus.FAILED
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    r.record_refund(store, reservation_id=held.reservation_id, now=4.0)
    assert r.payment_status(store, held.reservation_id) == r.PaymentStatus.REFUNDED


def test_a_seat_is_not_held_before_its_date_goes_on_sale(ids: CountingIds) -> None:
    from concertsim.models.errors import SalesNotOpen

    store = MemoryStore()
    r.add_seats(store, date_id=2, seats=1, price=500, opens_at=30.0)
    with pytest.raises(SalesNotOpen):
        r.hold_seat(store, ids, user_id=7, date_id=2, seat_no=1, ttl=TTL, now=29.9)
    held, _ = r.hold_seat(store, ids, user_id=7, date_id=2, seat_no=1, ttl=TTL, now=30.0)
    assert held.status == r.ReservationStatus.HELD
