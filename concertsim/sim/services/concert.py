"""Concert: the read side of dates and seats, and the fast-sell-out ranking (seed 2, 3.2).

Its seat view and ranking are projections of Reservation's events; they lag behind and must
converge once the events are delivered (checks ``seat-view-converges``, ``ranking-converges``).
Besides the subscriptions the seed lists, Concert consumes ReservationExpiredEvent and
ReservationFailedEvent: without them a released seat would stay held in the view forever.

Seat listings may be served from a cache (``seat_cache``, seed 3.2's "invalidates its cache"); the
seat check before a hold always reads the view, so a stale listing costs a buyer a failed hold,
never a double booking.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any
from weakref import WeakKeyDictionary

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
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.infrastructure.network import Ok, Reply
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services.common import Job

__all__ = ["ENDPOINTS", "subscriptions", "jobs"]


def dates(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    yield from ()
    found = concert.available_dates(host.db.begin(), host.clock())
    return Ok({"dates": [d.date_id for d in found]})


_CACHES: WeakKeyDictionary[Host, tuple[int, concert.SeatCache, Callable[[Transaction], None] | None]] = (
    WeakKeyDictionary()
)


def _seat_cache(host: Host) -> concert.SeatCache | None:
    """The host's seat cache (None without one); a restart begins with an empty one. An
    invalidated cache listens to the database's commits: a committed change of a seat drops the
    listing of its date (after the commit, as the handler of the seat event would), recorded as
    ``cache.invalidate``. The cache of an earlier incarnation stops listening."""
    spec = host.world.scenario.seat_cache
    if spec.mode == "none":
        return None
    kept = _CACHES.get(host)
    if kept is None or kept[0] != host.incarnation:
        if kept is not None and kept[2] is not None:
            host.db.commit_listeners.remove(kept[2])
        cache = concert.SeatCache(spec.mode, spec.ttl)
        listener = _invalidator(host, cache) if spec.mode == "invalidated" else None
        if listener is not None:
            host.db.commit_listeners.append(listener)
        kept = _CACHES[host] = (host.incarnation, cache, listener)
    return kept[1]


def _invalidator(host: Host, cache: concert.SeatCache) -> Callable[[Transaction], None]:
    def invalidate(tx: Transaction) -> None:
        changed: dict[int, list[int]] = {}
        for table, key in tx.writes:
            if table == concert.SEAT_VIEW:
                changed.setdefault(key[0], []).append(key[1])  # type: ignore[index]
        for date_id, seat_nos in changed.items():
            cache.invalidate(date_id)
            host.world.record("cache.invalidate", host.name, None, date=date_id, seats=sorted(seat_nos))

    return invalidate


def _shown_taken(tx: Transaction, date_id: int, listing: concert.CachedListing) -> int:
    """How many seats ``listing`` shows free that the view shows held or sold (a measurement, not
    part of serving: it is made only for a listing the view has moved past)."""
    free = set(concert.free_seats(tx, date_id))
    return sum(1 for seat_no in listing.free if seat_no not in free)


def seats(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """A date's free seats, from the seat cache when it has a listing it may serve (recorded as
    ``cache.hit`` with the listing's id, its age and how many seat changes the view has committed
    since it was read, ``behind``), else from the view, storing what it read (``cache.fill``: the
    listing's id, the seats it shows free and when the view was read). An invalidated cache
    stores a listing ``seat_cache.fill_seconds`` after reading it from the view (the read's round
    trip), so a change committed and invalidated in between leaves the old listing cached."""
    date_id, tx, now = body["date_id"], host.db.begin(), host.clock()
    cache = _seat_cache(host)
    version = concert.view_version(tx, date_id)
    if cache is not None:
        listing = cache.lookup(date_id, now=now, version=version)
        if listing is not None:
            behind = version - listing.version
            host.world.record("cache.hit", host.name, trace_id, date=date_id, listing=listing.listing_id,
                              age=now - listing.filled_at, behind=behind,
                              taken=_shown_taken(tx, date_id, listing) if behind else 0)
            return Ok({"available": list(listing.free)})
    free = concert.free_seats(tx, date_id)
    if cache is not None:
        read_at = host.env.now
        fill_seconds = host.world.scenario.seat_cache.fill_seconds
        if cache.mode == "invalidated" and fill_seconds > 0:
            yield host.env.timeout(fill_seconds)
        listing_id = host.world.next_id("listing")
        cache.fill(date_id, tuple(free), now=host.clock(), version=version, listing_id=listing_id)
        host.world.record("cache.fill", host.name, trace_id, date=date_id, listing=listing_id, free=free,
                          read_at=read_at)
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
    versioned = host.world.scenario.seat_cache.mode != "none"

    def update_seat(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        concert.apply_seat_event(tx, event.payload, now, count_versions=versioned)
        return []

    def record_sale(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        assert isinstance(event.payload, ReservationCompleted)
        concert.apply_seat_event(tx, event.payload, now, count_versions=versioned)
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
