"""Data Platform collection, and the event envelope."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from concertsim.models import data_platform
from concertsim.models.events import Event, ReservationCompleted, SeatReserved, seat_key, upcast
from concertsim.models.store import CountingIds, MemoryStore

SALE = ReservationCompleted(reservation_id="res-1", user_id=1, date_id=2, seat_no=3, amount=10, confirmed_at=4.0)


def test_collect_appends_one_record_per_event_received() -> None:
    store = MemoryStore()
    ids = CountingIds()
    data_platform.collect(store, ids, SALE, 5.0)
    data_platform.collect(store, ids, SALE, 6.0)
    assert data_platform.collected_reservation_ids(store) == ["res-1", "res-1"]


def test_envelope_round_trips_through_a_record() -> None:
    event = Event.wrap(SALE, event_id="evt-1", occurred_at=4.0, key=SALE.partition_key(), trace_id="op-1")
    record = event.to_record()
    assert (record["type"], record["version"], record["key"]) == ("ReservationCompletedEvent", 1, seat_key(2, 3))
    assert upcast(record["type"], record["version"], record["payload"]) == SALE


def test_events_are_immutable_and_reject_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        SeatReserved(reservation_id="r", user_id=1, date_id=1, seat_no=1, hold_expires_at=1.0, extra=1)
    with pytest.raises(ValidationError):
        SALE.amount = 5  # type: ignore[misc]


def test_unknown_versions_and_types_are_refused() -> None:
    with pytest.raises(ValueError):
        upcast("ReservationCompletedEvent", 2, {})
    with pytest.raises(ValueError):
        upcast("NoSuchEvent", 1, {})


def test_a_seats_events_share_one_partition_key() -> None:
    held = SeatReserved(reservation_id="res-1", user_id=1, date_id=2, seat_no=3, hold_expires_at=1.0)
    assert held.partition_key() == SALE.partition_key()
