"""Data Platform collection (seed 2, 3.1): one record per event received."""

from __future__ import annotations

from concertsim.models import data_platform
from concertsim.models.events import ReservationCompleted
from concertsim.models.store import CountingIds, MemoryStore


def sale(reservation_id: str) -> ReservationCompleted:
    return ReservationCompleted(reservation_id=reservation_id, user_id=1, date_id=2, seat_no=3, amount=10,
                                confirmed_at=4.0)


def test_collect_records_the_completed_reservation_and_when_it_was_collected() -> None:
    store = MemoryStore()
    data_platform.collect(store, CountingIds(), sale("res-1"), 5.0)
    (record,) = store.tables[data_platform.COLLECTED].values()
    assert record == data_platform.CollectedReservation("dp-1", "res-1", 1, 2, 3, 10, 4.0, 5.0)


def test_collect_appends_one_record_per_event_received_duplicates_included() -> None:
    store = MemoryStore()
    ids = CountingIds()
    for reservation_id, now in (("res-1", 5.0), ("res-2", 5.5), ("res-1", 6.0)):
        data_platform.collect(store, ids, sale(reservation_id), now)
    assert data_platform.collected_reservation_ids(store) == ["res-1", "res-2", "res-1"]


def test_nothing_collected_is_an_empty_list() -> None:
    assert data_platform.collected_reservation_ids(MemoryStore()) == []
