"""Concert's projections: the seat view and the fast-sell-out ranking."""

from __future__ import annotations

import pytest

from concertsim.models import concert as c
from concertsim.models.errors import SeatUnavailable
from concertsim.models.events import ReservationCompleted, ReservationExpired, SeatReserved
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


def test_seat_events_drive_the_view(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-1"), 1.0)
    with pytest.raises(SeatUnavailable):
        c.check_seat(store, date_id=1, seat_no=1)
    c.apply_seat_event(store, completed("res-1", 1, 2.0), 2.0)
    assert store.get(c.SEAT_VIEW, (1, 1)).status == c.SeatStatus.SOLD


def test_a_stale_release_does_not_free_someone_elses_hold(store: MemoryStore) -> None:
    c.apply_seat_event(store, reserved("res-2"), 1.0)
    c.apply_seat_event(store, ReservationExpired(reservation_id="res-1", user_id=1, date_id=1, seat_no=1), 2.0)
    assert store.get(c.SEAT_VIEW, (1, 1)).reservation_id == "res-2"


def test_available_dates_skip_sold_out_ones(store: MemoryStore) -> None:
    c.apply_seat_event(store, completed("res-9", 1, 1.0, date=2), 1.0)
    assert [d.date_id for d in c.available_dates(store, 1.0)] == [1]


def test_ranking_orders_sold_out_dates_by_time_to_sell_out_whatever_the_arrival_order(store: MemoryStore) -> None:
    c.record_sale(store, completed("res-3", 2, at=8.0))
    c.record_sale(store, completed("res-9", 1, at=3.0, date=2))
    c.record_sale(store, completed("res-1", 1, at=5.0))
    assert c.ranking(store) == [(2, 3.0), (1, 8.0)]
    dates = [store.get(c.DATES, 1), store.get(c.DATES, 2)]
    assert c.ranking_from_sales(dates, [(1, 5.0), (1, 8.0), (2, 3.0)]) == c.ranking(store)


def test_a_duplicate_sale_is_counted_twice_by_the_plain_projection(store: MemoryStore) -> None:
    c.record_sale(store, completed("res-1", 1, at=5.0))
    c.record_sale(store, completed("res-1", 1, at=5.0))
    assert store.get(c.TALLIES, 1).sold_count == 2
