"""Data Platform: collects completed reservations for analysis (seed 2, 3.1)."""

from __future__ import annotations

from dataclasses import dataclass

from concertsim.models.events import ReservationCompleted
from concertsim.models.store import IdSource, Store

__all__ = ["COLLECTED", "CollectedReservation", "collect", "collected_reservation_ids"]

COLLECTED = "collected"


@dataclass(slots=True)
class CollectedReservation:
    record_id: str
    reservation_id: str
    user_id: int
    date_id: int
    seat_no: int
    amount: int
    confirmed_at: float
    collected_at: float


def collect(store: Store, ids: IdSource, payload: ReservationCompleted, now: float) -> None:
    """Append one record per event received. Naive on purpose: exactly-once comes from the
    consumer's inbox (seed 4.2.3), and the checks verify it."""
    record = CollectedReservation(
        ids.next_id("dp"), payload.reservation_id, payload.user_id, payload.date_id, payload.seat_no,
        payload.amount, payload.confirmed_at, now,
    )
    store.put(COLLECTED, record.record_id, record)


def collected_reservation_ids(store: Store) -> list[str]:
    return [store.get(COLLECTED, key).reservation_id for key in store.keys(COLLECTED)]
