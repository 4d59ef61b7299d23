"""Concert: the read side of dates and seats, and the fast-sell-out ranking (seed 2, 3.2).

Its seat view and ranking are projections of Reservation's events; they lag behind and must
converge once the events are delivered (checks ``seat-view-converges``, ``ranking-converges``).
Besides the subscriptions the seed lists, Concert consumes ReservationExpiredEvent and
ReservationFailedEvent: without them a released seat would stay held in the view forever.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models import concert
from concertsim.models.events import (
    Event,
    EventPayload,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
)
from concertsim.sim.consumer import EventWork
from concertsim.sim.host import Host
from concertsim.sim.network import Ok, Reply
from concertsim.sim.services.common import Job
from concertsim.sim.storage import Transaction

__all__ = ["ENDPOINTS", "subscriptions", "jobs"]


def dates(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    found = concert.available_dates(host.db.begin(), host.clock())
    return Ok({"dates": [d.date_id for d in found]})


def seats(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    view = concert.seats_of(host.db.begin(), body["date_id"])
    free = [s.seat_no for s in view if s.status == concert.SeatStatus.AVAILABLE]
    return Ok({"available": free})


def ranking(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    return Ok({"ranking": concert.ranking(host.db.begin())})


def check_seat(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    concert.check_seat(host.db.begin(), date_id=body["date_id"], seat_no=body["seat_no"], now=host.clock())
    return Ok({"available": True})


ENDPOINTS = {
    "concert.dates": dates,
    "concert.seats": seats,
    "concert.ranking": ranking,
    "concert.check_seat": check_seat,
}
CALLS: dict[str, tuple[str, ...]] = {}
PUBLISHES: tuple[str, ...] = ()


def subscriptions(host: Host) -> dict[str, EventWork]:
    def update_seat(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        concert.apply_seat_event(tx, event.payload, now)
        return []

    def record_sale(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        assert isinstance(event.payload, ReservationCompleted)
        concert.apply_seat_event(tx, event.payload, now)
        concert.record_sale(tx, event.payload)
        return []

    return {
        SeatReserved.TYPE: update_seat,
        ReservationExpired.TYPE: update_seat,
        ReservationFailed.TYPE: update_seat,
        ReservationCompleted.TYPE: record_sale,
    }


def jobs(host: Host) -> dict[str, Job]:
    return {}
