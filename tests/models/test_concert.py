"""Concert's read side: dates, the seat view and the fast-sell-out ranking (seed 2, 3.2)."""

from __future__ import annotations

import pytest

from concertsim.models import concert as c
from concertsim.models.errors import SeatUnavailable, UnknownSeat
from concertsim.models.events import (
    PointUsed,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
)
from concertsim.models.store import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    c.add_date(store, date_id=1, opens_at=0.0, seats=2, price=10)
    c.add_date(store, date_id=2, opens_at=0.0, seats=1, price=10)
    return store


def reserved(res: str, seat: int = 1, date: int = 1) -> SeatReserved:
    return SeatReserved(reservation_id=res, user_id=1, date_id=date, seat_no=seat, hold_expires_at=9.0)


def completed(res: str, seat: int, at: float, date: int = 1) -> ReservationCompleted:
    return ReservationCompleted(reservation_id=res, user_id=1, date_id=date, seat_no=seat, amount=10, confirmed_at=at)


def expired(res: str, seat: int = 1) -> ReservationExpired:
    return ReservationExpired(reservation_id=res, user_id=1, date_id=1, seat_no=seat)


def failed(res: str, seat: int = 1) -> ReservationFailed:
    return ReservationFailed(reservation_id=res, user_id=1, date_id=1, seat_no=seat, amount=10, reason="x")


def view(store: MemoryStore, seat: int = 1, date: int = 1) -> tuple[c.SeatStatus, str | None]:
    seen = store.get(c.SEAT_VIEW, (date, seat))
    return seen.status, seen.reservation_id


def test_seats_of_lists_a_dates_seats_by_number(store: MemoryStore) -> None:
    assert [(s.seat_no, s.status) for s in c.seats_of(store, 1)] == [(1, c.SeatStatus.AVAILABLE),
                                                                      (2, c.SeatStatus.AVAILABLE)]
    assert c.seats_of(store, 99) == []


def test_free_seats_are_the_seats_the_view_shows_available(store: MemoryStore) -> None:
    c.add_date(store, date_id=3, opens_at=0.0, seats=4, price=10)
    c.apply_seat_event(store, reserved("r1", seat=2, date=3), 1.0)
    c.apply_seat_event(store, reserved("r2", seat=4, date=3), 1.0)
    c.apply_seat_event(store, completed("r2", seat=4, at=2.0, date=3), 2.0)
    assert c.free_seats(store, 3) == [1, 3]
    assert c.free_seats(store, 2) == [1]
    assert c.free_seats(store, 99) == []


def test_check_seat_answers_a_free_seat_and_refuses_an_unknown_one(store: MemoryStore) -> None:
    assert c.check_seat(store, date_id=1, seat_no=2).seat_no == 2
    with pytest.raises(UnknownSeat):
        c.check_seat(store, date_id=1, seat_no=3)


def test_seat_events_drive_the_view(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    assert view(store) == (c.SeatStatus.HELD, "res-1")
    with pytest.raises(SeatUnavailable) as refused:
        c.check_seat(store, date_id=1, seat_no=1)
    assert refused.value.status == "HELD"
    c.apply_seat_event(store, completed("res-1", 1, 2.0), 2.0)
    assert view(store) == (c.SeatStatus.SOLD, "res-1")
    assert store.get(c.SEAT_VIEW, (1, 1)).updated_at == 2.0


@pytest.mark.parametrize("release", [expired, failed])
def test_a_release_frees_the_seat_of_its_own_reservation(store: MemoryStore, release) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    c.apply_seat_event(store, release("res-1"), 2.0)
    assert view(store) == (c.SeatStatus.AVAILABLE, None)
    assert c.check_seat(store, date_id=1, seat_no=1).updated_at == 2.0


@pytest.mark.parametrize("release", [expired, failed])
def test_a_stale_release_does_not_free_someone_elses_hold(store: MemoryStore, release) -> None:
    c.apply_seat_event(store, reserved("res-2"), 1.0)
    c.apply_seat_event(store, release("res-1"), 2.0)
    assert view(store) == (c.SeatStatus.HELD, "res-2")
    assert store.get(c.SEAT_VIEW, (1, 1)).updated_at == 1.0


def test_a_stale_release_does_not_unsell_a_sold_seat(store: MemoryStore) -> None:
    c.apply_seat_event(store, completed("res-2", 1, 1.0), 1.0)
    c.apply_seat_event(store, failed("res-1"), 2.0)
    assert view(store) == (c.SeatStatus.SOLD, "res-2")


def test_an_event_that_is_not_about_a_seat_is_refused(store: MemoryStore) -> None:
    with pytest.raises(TypeError):
        c.apply_seat_event(store, PointUsed(user_id=1, use_id="u", reservation_id="r", amount=1, balance=0), 1.0)


def test_available_dates_are_the_opened_ones_with_a_free_seat(store: MemoryStore) -> None:
    c.add_date(store, date_id=3, opens_at=5.0, seats=1, price=10)
    assert [d.date_id for d in c.available_dates(store, 1.0)] == [1, 2]
    assert [d.date_id for d in c.available_dates(store, 5.0)] == [1, 2, 3]
    c.apply_seat_event(store, completed("res-9", 1, 1.0, date=2), 1.0)
    assert [d.date_id for d in c.available_dates(store, 5.0)] == [1, 3]


def test_a_date_is_available_again_when_its_last_seat_is_released_after_a_duplicate_hold(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1", date=2), 1.0)
    c.apply_seat_event(store, reserved("res-1", date=2), 1.5)
    assert [d.date_id for d in c.available_dates(store, 2.0)] == [1]
    c.apply_seat_event(store, ReservationExpired(reservation_id="res-1", user_id=1, date_id=2, seat_no=1), 3.0)
    assert [d.date_id for d in c.available_dates(store, 3.0)] == [1, 2]


def test_ranking_orders_sold_out_dates_by_time_to_sell_out_whatever_the_arrival_order(store: MemoryStore) -> None:
    c.record_sale(store, completed("res-3", 2, at=8.0))
    c.record_sale(store, completed("res-9", 1, at=3.0, date=2))
    assert c.ranking(store) == [(2, 3.0)]
    c.record_sale(store, completed("res-1", 1, at=5.0))
    assert c.ranking(store) == [(2, 3.0), (1, 8.0)]


def test_ranking_measures_from_the_opening_and_breaks_ties_by_date(store: MemoryStore) -> None:
    c.add_date(store, date_id=3, opens_at=10.0, seats=1, price=10)
    c.record_sale(store, completed("res-3", 1, at=13.0, date=3))
    c.record_sale(store, completed("res-2", 1, at=3.0, date=2))
    assert c.ranking(store) == [(2, 3.0), (3, 3.0)]


def test_ranking_from_sales_is_what_the_projection_converges_to(store: MemoryStore) -> None:
    sales = [completed("res-3", 2, at=8.0), completed("res-9", 1, at=3.0, date=2), completed("res-1", 1, at=5.0)]
    for sale in sales:
        c.record_sale(store, sale)
    dates = [store.get(c.DATES, 1), store.get(c.DATES, 2)]
    assert c.ranking_from_sales(dates, [(s.date_id, s.confirmed_at) for s in sales]) == c.ranking(store)


def test_ranking_from_sales_leaves_out_dates_not_sold_out(store: MemoryStore) -> None:
    dates = [store.get(c.DATES, 1), store.get(c.DATES, 2)]
    assert c.ranking_from_sales(dates, [(1, 5.0)]) == []
    assert c.ranking_from_sales(dates, []) == []


def test_a_duplicate_sale_is_counted_twice_by_the_plain_projection(store: MemoryStore) -> None:
    c.record_sale(store, completed("res-1", 1, at=5.0))
    c.record_sale(store, completed("res-1", 1, at=5.0))
    assert store.get(c.TALLIES, 1).sold_count == 2
    assert c.ranking(store) == [(1, 5.0)]


def test_the_seat_check_refuses_a_date_not_yet_on_sale() -> None:
    from concertsim.models.errors import SalesNotOpen
    from concertsim.models.store import MemoryStore

    store = MemoryStore()
    c.add_date(store, date_id=1, opens_at=60.0, seats=2, price=100)
    with pytest.raises(SalesNotOpen):
        c.check_seat(store, date_id=1, seat_no=1, now=59.0)
    assert c.check_seat(store, date_id=1, seat_no=1, now=60.0).seat_no == 1


def test_add_date_puts_every_seat_free_in_the_view_and_the_tally_at_zero() -> None:
    store = MemoryStore()
    c.add_date(store, date_id=4, opens_at=15.0, seats=3, price=120)
    assert store.get(c.DATES, 4) == c.ConcertDate(4, 15.0, 3, 120)
    assert store.get(c.TALLIES, 4) == c.SalesTally(4, 3, 15.0, sold_count=0, last_sale_at=None, sold_out_at=None)
    assert store.get(c.FREE_SEATS, 4) == 3
    assert c.seats_of(store, 4) == [c.SeatView(4, n, c.SeatStatus.AVAILABLE, None, 0.0) for n in (1, 2, 3)]
    assert store.get(c.SEAT_VIEW, (4, 4)) is None and store.get(c.SEAT_VIEW, (4, 0)) is None
    assert c.view_version(store, 4) == 0


def test_available_dates_are_ordered_by_date_id_whatever_the_order_they_were_added() -> None:
    store = MemoryStore()
    for date_id in (3, 1, 2):
        c.add_date(store, date_id=date_id, opens_at=0.0, seats=1, price=10)
    assert [d.date_id for d in c.available_dates(store, 0.0)] == [1, 2, 3]


def test_the_seat_check_names_the_refused_seat(store: MemoryStore) -> None:
    with pytest.raises(UnknownSeat) as unknown:
        c.check_seat(store, date_id=2, seat_no=5)
    assert (unknown.value.date, unknown.value.seat) == (2, 5)
    c.apply_seat_event(store, completed("res-1", 2, 1.0), 1.0)
    with pytest.raises(SeatUnavailable) as taken:
        c.check_seat(store, date_id=1, seat_no=2)
    assert (taken.value.date, taken.value.seat, taken.value.status) == (1, 2, "SOLD")


def test_the_seat_check_without_a_time_does_not_ask_whether_the_sale_opened() -> None:
    from concertsim.models.errors import SalesNotOpen

    store = MemoryStore()
    c.add_date(store, date_id=1, opens_at=60.0, seats=1, price=100)
    assert c.check_seat(store, date_id=1, seat_no=1) == c.SeatView(1, 1, c.SeatStatus.AVAILABLE, None, 0.0)
    with pytest.raises(SalesNotOpen) as early:
        c.check_seat(store, date_id=1, seat_no=1, now=10.0)
    assert (early.value.date, early.value.opens_at, early.value.now) == (1, 60.0, 10.0)


def test_the_seat_check_of_a_seat_the_view_has_without_its_date_checks_only_the_seat() -> None:
    store = MemoryStore()
    store.put(c.SEAT_VIEW, (5, 1), c.SeatView(5, 1, c.SeatStatus.AVAILABLE, None, 0.0))
    assert c.check_seat(store, date_id=5, seat_no=1, now=1.0).seat_no == 1


def test_an_event_that_is_not_about_a_seat_is_refused_by_name(store: MemoryStore) -> None:
    with pytest.raises(TypeError, match="^PointUsed is not a seat event$"):
        c.apply_seat_event(store, PointUsed(user_id=1, use_id="u", reservation_id="r", amount=1, balance=0), 1.0)
    assert c.seats_of(store, 1)[0] == c.SeatView(1, 1, c.SeatStatus.AVAILABLE, None, 0.0)


@pytest.mark.parametrize("event", [reserved("res-1", seat=3), completed("res-1", 3, 1.0), expired("res-1", seat=3),
                                   failed("res-1", seat=3)])
def test_a_seat_event_for_a_seat_the_view_does_not_have_is_refused(store: MemoryStore, event) -> None:
    with pytest.raises(UnknownSeat) as unknown:
        c.apply_seat_event(store, event, 1.0)
    assert (unknown.value.date, unknown.value.seat) == (1, 3)


def test_a_hold_takes_one_free_seat_of_its_date_and_a_release_gives_it_back(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1", seat=2), 1.0)
    assert store.get(c.SEAT_VIEW, (1, 2)) == c.SeatView(1, 2, c.SeatStatus.HELD, "res-1", 1.0)
    assert (store.get(c.FREE_SEATS, 1), store.get(c.FREE_SEATS, 2)) == (1, 1)
    c.apply_seat_event(store, expired("res-1", seat=2), 2.0)
    assert store.get(c.SEAT_VIEW, (1, 2)) == c.SeatView(1, 2, c.SeatStatus.AVAILABLE, None, 2.0)
    assert (store.get(c.FREE_SEATS, 1), store.get(c.FREE_SEATS, 2)) == (2, 1)


def test_a_sale_of_a_held_seat_does_not_count_it_taken_twice(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    c.apply_seat_event(store, completed("res-1", 1, 2.0), 2.0)
    assert store.get(c.SEAT_VIEW, (1, 1)) == c.SeatView(1, 1, c.SeatStatus.SOLD, "res-1", 2.0)
    assert store.get(c.FREE_SEATS, 1) == 1


def test_a_sale_arriving_before_its_hold_takes_the_seat_once(store: MemoryStore) -> None:
    c.apply_seat_event(store, completed("res-1", 1, 2.0), 2.0)
    assert store.get(c.FREE_SEATS, 1) == 1
    c.apply_seat_event(store, reserved("res-1"), 3.0)
    assert store.get(c.FREE_SEATS, 1) == 1


def test_a_stale_release_changes_neither_the_free_count_nor_the_version(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-2"), 1.0, count_versions=True)
    c.apply_seat_event(store, failed("res-1"), 2.0, count_versions=True)
    assert (store.get(c.FREE_SEATS, 1), c.view_version(store, 1)) == (1, 1)


def test_a_release_of_a_free_seat_keeps_the_free_count(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    c.apply_seat_event(store, expired("res-1"), 2.0)
    c.apply_seat_event(store, expired("res-1"), 3.0)
    assert store.get(c.FREE_SEATS, 1) == 2


def test_the_view_counts_a_dates_seat_changes_only_when_asked(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    assert c.view_version(store, 1) == 0 and store.get(c.VIEW_VERSIONS, 1) is None
    c.apply_seat_event(store, reserved("res-2", seat=2), 1.0, count_versions=True)
    assert c.view_version(store, 1) == 1
    c.apply_seat_event(store, completed("res-2", 2, 2.0), 2.0, count_versions=True)
    c.apply_seat_event(store, reserved("res-9", date=2), 2.0, count_versions=True)
    assert (c.view_version(store, 1), c.view_version(store, 2)) == (2, 1)


def test_ranking_and_its_expected_value_break_ties_by_date_id_whatever_the_calendar_order() -> None:
    store = MemoryStore()
    c.add_date(store, date_id=5, opens_at=10.0, seats=1, price=10)
    c.add_date(store, date_id=4, opens_at=20.0, seats=1, price=10)
    c.record_sale(store, completed("res-1", 1, at=13.0, date=5))
    c.record_sale(store, completed("res-2", 1, at=23.0, date=4))
    assert c.ranking(store) == [(4, 3.0), (5, 3.0)]
    dates = [store.get(c.DATES, 5), store.get(c.DATES, 4)]
    assert c.ranking_from_sales(dates, [(5, 13.0), (4, 23.0)]) == [(4, 3.0), (5, 3.0)]
