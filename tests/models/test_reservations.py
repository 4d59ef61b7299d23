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
    assert r.decline_payment(store, reservation_id=held.reservation_id, now=3.0) == r.PaymentStatus.PENDING
    payment = store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id))
    assert payment.status == r.PaymentStatus.PENDING  # the other request may still deduct
    assert r.decline_payment(store, reservation_id=held.reservation_id, now=4.0) == r.PaymentStatus.DECLINED
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


def test_a_hold_records_every_field_of_the_reservation_and_the_users_holds(store: MemoryStore, ids: CountingIds) -> None:
    first, _ = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=2, ttl=TTL, now=3.0)
    assert first == r.Reservation("res-1", 7, 1, 2, 500, 3.0, 13.0, r.ReservationStatus.HELD,
                                  confirmed_at=None, ended_at=None, failure_reason=None)
    assert store.get(r.RESERVATIONS, "res-1") == first
    assert store.get(r.SEATS, (1, 2)) == r.BookingSeat(1, 2, r.SeatStatus.HELD, "res-1", 500)
    second, _ = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=3, ttl=TTL, now=4.0)
    assert store.get(r.USER_HOLDS, 7) == ("res-1", "res-2")
    assert r.open_holds_of(store, 7, 4.0) == ["res-1", "res-2"]
    assert list(store.keys(r.HOLDS_BY_KEY)) == []


def test_a_hold_refused_for_an_unknown_or_taken_seat_names_it(store: MemoryStore, hold) -> None:
    with pytest.raises(UnknownSeat) as unknown:
        hold(seat=4)
    assert (unknown.value.date, unknown.value.seat) == (1, 4)
    r.confirm(store, reservation_id=hold(seat=2).reservation_id, now=1.0)
    with pytest.raises(SeatUnavailable) as taken:
        hold(seat=2, user=8, now=2.0)
    assert (taken.value.date, taken.value.seat, taken.value.status) == (1, 2, "SOLD")


def test_a_refused_hold_changes_nothing(store: MemoryStore, hold) -> None:
    held = hold(seat=1)
    before = {table: dict(rows) for table, rows in store.tables.items()}
    with pytest.raises(SeatUnavailable):
        hold(seat=1, user=8)
    assert store.tables == before
    assert r.open_holds_of(store, 8, 1.0) == [] and held.reservation_id == "res-1"


def test_a_hold_repeated_with_its_key_makes_no_new_reservation(store: MemoryStore, ids: CountingIds) -> None:
    first, _ = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=0.0, idempotency_key="op-1")
    assert store.get(r.HOLDS_BY_KEY, "op-1") == first.reservation_id
    r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=1.0, idempotency_key="op-1")
    assert list(store.keys(r.RESERVATIONS)) == [first.reservation_id]
    assert store.get(r.USER_HOLDS, 7) == (first.reservation_id,)
    other, raised = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=2, ttl=TTL, now=2.0,
                                idempotency_key="op-2")
    assert other.reservation_id == "res-2" and len(raised) == 1
    assert r.hold_for_key(store, "op-3") is None


def test_a_hold_limit_counts_open_holds_up_to_and_including_the_limit(store: MemoryStore, ids: CountingIds) -> None:
    from concertsim.models.errors import HoldLimitReached

    for seat_no in (1, 2):
        r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=seat_no, ttl=TTL, now=0.0, max_open_holds=2)
    with pytest.raises(HoldLimitReached) as refused:
        r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=3, ttl=TTL, now=1.0, max_open_holds=2)
    assert (refused.value.user, refused.value.open_holds, refused.value.limit) == (7, 2, 2)
    assert store.get(r.SEATS, (1, 3)).status == r.SeatStatus.AVAILABLE
    r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=3, ttl=TTL, now=1.0)


def test_closed_holds_do_not_count_toward_the_limit(store: MemoryStore, ids: CountingIds) -> None:
    held, _ = r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=TTL, now=0.0)
    r.confirm(store, reservation_id=held.reservation_id, now=1.0)
    r.hold_seat(store, ids, user_id=7, date_id=1, seat_no=2, ttl=TTL, now=2.0, max_open_holds=1)
    assert r.open_holds_of(store, 7, 2.0) == ["res-2"]


def test_a_hold_of_a_seat_whose_date_has_no_opening_is_not_checked_for_one(ids: CountingIds) -> None:
    store = MemoryStore()
    store.put(r.SEATS, (3, 1), r.BookingSeat(3, 1, r.SeatStatus.AVAILABLE, None, 80))
    held, _ = r.hold_seat(store, ids, user_id=7, date_id=3, seat_no=1, ttl=TTL, now=0.0)
    assert held.amount == 80


def test_a_hold_before_the_opening_names_the_date_and_when_it_opens(ids: CountingIds) -> None:
    from concertsim.models.errors import SalesNotOpen

    store = MemoryStore()
    r.add_seats(store, date_id=2, seats=1, price=500, opens_at=30.0)
    assert store.get(r.SALES_OPEN, 2) == 30.0
    with pytest.raises(SalesNotOpen) as early:
        r.hold_seat(store, ids, user_id=7, date_id=2, seat_no=1, ttl=TTL, now=29.0)
    assert (early.value.date, early.value.opens_at, early.value.now) == (2, 30.0, 29.0)


def test_add_seats_opens_the_sale_at_time_zero_by_default(store: MemoryStore) -> None:
    assert store.get(r.SALES_OPEN, 1) == 0.0
    assert store.get(r.SEATS, (1, 4)) is None and store.get(r.SEATS, (1, 0)) is None


def test_record_refund_of_a_failed_payment_marks_it_refunded_at_that_time(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.fail_payment(store, reservation_id=held.reservation_id, reason="x", now=2.0)
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    assert store.get(r.PAYMENTS, r.payment_id_for(held.reservation_id)) == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.REFUNDED, 1.0, completed_at=3.0, requests_out=1)


def test_record_refund_of_a_refunded_payment_changes_nothing(store: MemoryStore, hold) -> None:
    held = hold()
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    r.record_refund(store, reservation_id=held.reservation_id, now=4.0)
    assert store.get(r.PAYMENTS, "pay-res-1").completed_at == 3.0


def test_record_refund_of_a_completed_payment_changes_nothing(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    payment = store.get(r.PAYMENTS, "pay-res-1")
    assert (payment.status, payment.completed_at) == (r.PaymentStatus.COMPLETED, 2.0)


def test_record_refund_without_a_payment_records_a_refunded_one(store: MemoryStore, hold) -> None:
    held = hold(user=9)
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 9, 500, r.PaymentStatus.REFUNDED, 3.0, completed_at=3.0, requests_out=0)
    assert r.payment_status(store, held.reservation_id) == r.PaymentStatus.REFUNDED


@pytest.mark.parametrize("settle", ["pending", "declined"])
def test_record_refund_of_an_unsettled_payment_marks_it_refunded(store: MemoryStore, hold, settle: str) -> None:
    held = hold()
    pay(store, held, now=1.0)
    if settle == "declined":
        r.decline_payment(store, reservation_id=held.reservation_id, now=2.0)
    r.record_refund(store, reservation_id=held.reservation_id, now=3.0)
    payment = store.get(r.PAYMENTS, "pay-res-1")
    assert (payment.status, payment.completed_at) == (r.PaymentStatus.REFUNDED, 3.0)


def test_record_refund_for_an_unknown_reservation_is_refused(store: MemoryStore) -> None:
    with pytest.raises(ReservationNotFound) as unknown:
        r.record_refund(store, reservation_id="res-x", now=1.0)
    assert unknown.value.reservation == "res-x"
    assert store.get(r.PAYMENTS, "pay-res-x") is None


def test_payment_status_is_none_before_a_payment_is_asked_for(store: MemoryStore, hold) -> None:
    assert r.payment_status(store, hold().reservation_id) is None
    assert r.payment_id_for("res-4") == "pay-res-4"


def test_a_refused_confirmation_or_failure_names_the_reservation_and_its_status(store: MemoryStore, hold) -> None:
    expired_one, confirmed_one = hold(seat=1), hold(seat=2, now=5.0)
    r.confirm(store, reservation_id=confirmed_one.reservation_id, now=6.0)
    r.expire_due_holds(store, now=TTL)
    with pytest.raises(ReservationClosed) as closed:
        r.confirm(store, reservation_id=expired_one.reservation_id, now=11.0)
    assert (closed.value.reservation, closed.value.status) == (expired_one.reservation_id, "EXPIRED")
    with pytest.raises(ReservationClosed) as confirmed:
        r.fail_payment(store, reservation_id=confirmed_one.reservation_id, reason="late", now=11.0)
    assert (confirmed.value.reservation, confirmed.value.status) == (confirmed_one.reservation_id, "CONFIRMED")


def test_a_confirmation_after_the_hold_ran_out_names_the_reservation_and_both_times(store: MemoryStore, hold) -> None:
    held = hold()
    with pytest.raises(HoldExpired) as late:
        r.confirm(store, reservation_id=held.reservation_id, now=10.5)
    assert (late.value.reservation, late.value.expired_at, late.value.now) == (held.reservation_id, 10.0, 10.5)
    with pytest.raises(HoldExpired) as late_payment:
        pay(store, held, now=10.5)
    assert (late_payment.value.reservation, late_payment.value.expired_at) == (held.reservation_id, 10.0)


def test_confirming_completes_the_payment_that_was_started(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.COMPLETED, 1.0, completed_at=2.0, requests_out=1)


def test_confirming_without_a_started_payment_records_a_completed_one(store: MemoryStore, hold) -> None:
    held = hold()
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.COMPLETED, 2.0, completed_at=2.0, requests_out=0)


def test_failing_a_payment_records_when_it_failed(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.fail_payment(store, reservation_id=held.reservation_id, reason="x", now=2.0)
    payment = store.get(r.PAYMENTS, "pay-res-1")
    assert (payment.status, payment.created_at, payment.completed_at) == (r.PaymentStatus.FAILED, 1.0, 2.0)


def test_an_expired_hold_records_when_it_ended_and_fails_its_pending_payment_then(store: MemoryStore, hold) -> None:
    held = hold(user=9)
    pay(store, held, now=1.0)
    raised = r.expire_due_holds(store, now=12.0)
    assert raised == [
        ReservationExpired(reservation_id="res-1", user_id=9, date_id=1, seat_no=1),
        ReservationFailed(reservation_id="res-1", user_id=9, date_id=1, seat_no=1, amount=500,
                          reason="hold-expired-during-payment"),
    ]
    expired = store.get(r.RESERVATIONS, "res-1")
    assert (expired.status, expired.ended_at, expired.failure_reason) == (r.ReservationStatus.EXPIRED, 12.0, None)
    payment = store.get(r.PAYMENTS, "pay-res-1")
    assert (payment.status, payment.created_at, payment.completed_at) == (r.PaymentStatus.FAILED, 1.0, 12.0)


def test_a_confirmed_reservation_is_not_expired_and_asks_for_no_refund(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert r.expire_due_holds(store, now=TTL) == []


def test_the_sweeper_skips_an_open_hold_entry_of_a_closed_reservation_and_goes_on(store: MemoryStore, hold) -> None:
    first, second = hold(seat=1, now=0.0), hold(seat=2, now=1.0)
    closed = store.get(r.RESERVATIONS, first.reservation_id)
    closed.status = r.ReservationStatus.CONFIRMED
    store.put(r.RESERVATIONS, first.reservation_id, closed)
    raised = r.expire_due_holds(store, now=20.0)
    assert [e.reservation_id for e in raised] == [second.reservation_id]
    assert r.reservation_status(store, first.reservation_id) == r.ReservationStatus.CONFIRMED


def test_releasing_a_reservation_never_frees_a_seat_another_reservation_holds(store: MemoryStore, hold) -> None:
    held = hold()
    taken = store.get(r.SEATS, (1, 1))
    taken.reservation_id = "res-other"
    store.put(r.SEATS, (1, 1), taken)
    r.fail_payment(store, reservation_id=held.reservation_id, reason="x", now=1.0)
    assert (seat(store).status, seat(store).reservation_id) == (r.SeatStatus.HELD, "res-other")


def test_a_buyer_asking_for_the_status_of_their_own_reservation_gets_it(store: MemoryStore, hold) -> None:
    held = hold()
    assert r.reservation_status(store, held.reservation_id, user_id=7) == r.ReservationStatus.HELD
    with pytest.raises(NotReservationOwner) as other:
        r.reservation_status(store, held.reservation_id, user_id=8)
    assert (other.value.reservation, other.value.user) == (held.reservation_id, 8)
    with pytest.raises(ReservationNotFound) as unknown:
        r.reservation_status(store, "res-x", user_id=7)
    assert unknown.value.reservation == "res-x"


def test_a_payment_started_records_every_field_and_counts_its_requests(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.PENDING, 1.0, completed_at=None, requests_out=1)
    pay(store, held, now=2.0, pending=True)
    pay(store, held, now=3.0, pending=True)
    assert store.get(r.PAYMENTS, "pay-res-1").requests_out == 3
    assert store.get(r.RESERVATIONS, "res-1").status == r.ReservationStatus.PAYMENT_PENDING


def test_a_payment_by_someone_else_names_the_reservation_and_the_caller(store: MemoryStore, hold) -> None:
    held = hold()
    with pytest.raises(NotReservationOwner) as other:
        r.start_payment(store, reservation_id=held.reservation_id, user_id=8, now=1.0, pending=False)
    assert (other.value.reservation, other.value.user) == (held.reservation_id, 8)
    assert store.get(r.PAYMENTS, "pay-res-1") is None


def test_a_payment_of_a_closed_reservation_names_its_status(store: MemoryStore, hold) -> None:
    held = hold()
    r.fail_payment(store, reservation_id=held.reservation_id, reason="x", now=1.0)
    with pytest.raises(ReservationClosed) as closed:
        pay(store, held, now=2.0)
    assert (closed.value.reservation, closed.value.status) == (held.reservation_id, "FAILED")


def test_paying_again_after_a_decline_reopens_the_same_payment(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0, pending=True)
    r.decline_payment(store, reservation_id=held.reservation_id, now=2.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.DECLINED, 1.0, completed_at=2.0, requests_out=0)
    assert store.get(r.RESERVATIONS, "res-1").status == r.ReservationStatus.HELD
    pay(store, held, now=3.0)
    assert store.get(r.PAYMENTS, "pay-res-1") == r.Payment(
        "pay-res-1", "res-1", 7, 500, r.PaymentStatus.PENDING, 1.0, completed_at=None, requests_out=1)


def test_a_decline_of_a_payment_never_started_or_already_settled_changes_nothing(store: MemoryStore, hold) -> None:
    held = hold()
    assert r.decline_payment(store, reservation_id=held.reservation_id, now=1.0) is None
    assert store.get(r.PAYMENTS, "pay-res-1") is None
    pay(store, held, now=2.0)
    r.confirm(store, reservation_id=held.reservation_id, now=3.0)
    # The payment's status is the answer: an orchestrator compensates a payment the sweeper failed.
    assert r.decline_payment(store, reservation_id=held.reservation_id, now=4.0) == r.PaymentStatus.COMPLETED
    payment = store.get(r.PAYMENTS, "pay-res-1")
    assert (payment.status, payment.completed_at, payment.requests_out) == (r.PaymentStatus.COMPLETED, 3.0, 1)
    assert r.reservation_status(store, held.reservation_id) == r.ReservationStatus.CONFIRMED


def test_a_decline_outside_the_choreography_flow_leaves_the_hold_as_it_is(store: MemoryStore, hold) -> None:
    held = hold()
    pay(store, held, now=1.0)
    r.decline_payment(store, reservation_id=held.reservation_id, now=2.0)
    assert store.get(r.PAYMENTS, "pay-res-1").status == r.PaymentStatus.DECLINED
    assert store.get(r.RESERVATIONS, "res-1") == r.Reservation("res-1", 7, 1, 1, 500, 0.0, 10.0,
                                                               r.ReservationStatus.HELD)
