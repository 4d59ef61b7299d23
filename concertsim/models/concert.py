"""Concert: dates, the read-side seat view and the fast-sell-out ranking (seed 2, 3.2).

The seat view and the ranking are projections of Reservation's events. They are eventually
consistent: they lag, and must converge to Reservation's state once every event is delivered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat

from concertsim.models.errors import SalesNotOpen, SeatUnavailable, UnknownSeat
from concertsim.models.events import (
    EventPayload,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
)
from concertsim.models.reservations import SeatStatus
from concertsim.models.store import Store

__all__ = [
    "DATES",
    "SEAT_VIEW",
    "TALLIES",
    "FREE_SEATS",
    "VIEW_VERSIONS",
    "SeatStatus",
    "CachedListing",
    "SeatCache",
    "view_version",
    "ConcertDate",
    "SeatView",
    "SalesTally",
    "add_date",
    "available_dates",
    "seats_of",
    "free_seats",
    "check_seat",
    "apply_seat_event",
    "record_sale",
    "ranking",
    "ranking_from_sales",
]

DATES = "dates"
SEAT_VIEW = "seat_view"
VIEW_VERSIONS = "view_versions"
"""date id -> how many seat changes of that date the view has applied (a cache's validity)."""
TALLIES = "tallies"
FREE_SEATS = "free_seats"


@dataclass(slots=True)
class ConcertDate:
    date_id: int
    opens_at: float
    seats: int
    price: int


@dataclass(slots=True)
class SeatView:
    date_id: int
    seat_no: int
    status: SeatStatus
    reservation_id: str | None
    updated_at: float


@dataclass(slots=True)
class SalesTally:
    date_id: int
    seats: int
    opens_at: float
    sold_count: int = 0
    last_sale_at: float | None = None
    sold_out_at: float | None = None


def add_date(store: Store, *, date_id: int, opens_at: float, seats: int, price: int) -> None:
    """Put a date on the calendar: its seats 1..``seats`` all AVAILABLE in the view, its sales
    tally at zero."""
    store.put(DATES, date_id, ConcertDate(date_id, opens_at, seats, price))
    store.put(TALLIES, date_id, SalesTally(date_id, seats, opens_at))
    store.put(FREE_SEATS, date_id, seats)
    for seat_no in range(1, seats + 1):
        store.put(SEAT_VIEW, (date_id, seat_no), SeatView(date_id, seat_no, SeatStatus.AVAILABLE, None, 0.0))


def seats_of(store: Store, date_id: int) -> list[SeatView]:
    """The view of ``date_id``'s seats by seat number (seed 2: ``GET .../dates/{date}/seats``);
    empty for an unknown date."""
    concert_date = store.get(DATES, date_id)
    if concert_date is None:
        return []
    return store.get_many(SEAT_VIEW, zip(repeat(date_id), range(1, concert_date.seats + 1)))


def free_seats(store: Store, date_id: int) -> list[int]:
    """The numbers of ``date_id``'s seats the view shows AVAILABLE, in order (what the seat map
    offers; read at every request of a flash crowd, hundreds of seats a date)."""
    available = SeatStatus.AVAILABLE
    return [seat.seat_no for seat in seats_of(store, date_id) if seat.status == available]


def available_dates(store: Store, now: float) -> list[ConcertDate]:
    """Dates on sale at ``now`` with at least one seat free in the view, by date id."""
    opened = [d for d in store.get_many(DATES, sorted(store.keys(DATES))) if d.opens_at <= now]
    free = store.get_many(FREE_SEATS, [d.date_id for d in opened])
    return [d for d, seats in zip(opened, free) if seats > 0]


def check_seat(store: Store, *, date_id: int, seat_no: int, now: float | None = None) -> SeatView:
    """The seat check Reservation makes before holding (seed 3.2). Given ``now``, a seat of a date
    whose sale has not opened is refused with :class:`SalesNotOpen`."""
    seat = store.get(SEAT_VIEW, (date_id, seat_no))
    if seat is None:
        raise UnknownSeat(date_id, seat_no)
    date = store.get(DATES, date_id)
    if now is not None and date is not None and now < date.opens_at:
        raise SalesNotOpen(date_id, date.opens_at, now)
    if seat.status != SeatStatus.AVAILABLE:
        raise SeatUnavailable(date_id, seat_no, str(seat.status))
    return seat


def apply_seat_event(store: Store, payload: EventPayload, now: float, *, count_versions: bool = False) -> None:
    """Project a seat event onto the view (seed 3.2): SeatReserved holds the seat for its
    reservation, ReservationCompleted sells it. A release (expiry, failure) frees the seat only if
    the view still shows it for that reservation, so a stale release never frees someone else's
    hold. The view's count of free seats per date follows every change; with ``count_versions``
    (a seat cache validates against it) so does the date's version, a row read for update, so two
    concurrent changes of one date conflict rather than count once."""
    if not isinstance(payload, (SeatReserved, ReservationCompleted, ReservationExpired, ReservationFailed)):
        raise TypeError(f"{type(payload).__name__} is not a seat event")
    address = (payload.date_id, payload.seat_no)
    seat = store.get_for_update(SEAT_VIEW, address)
    if seat is None:
        raise UnknownSeat(payload.date_id, payload.seat_no)
    was_free = seat.status == SeatStatus.AVAILABLE
    if isinstance(payload, SeatReserved):
        seat.status, seat.reservation_id = SeatStatus.HELD, payload.reservation_id
    elif isinstance(payload, ReservationCompleted):
        seat.status, seat.reservation_id = SeatStatus.SOLD, payload.reservation_id
    elif seat.reservation_id == payload.reservation_id:
        seat.status, seat.reservation_id = SeatStatus.AVAILABLE, None
    else:
        return
    seat.updated_at = now
    store.put(SEAT_VIEW, address, seat)
    if count_versions:
        store.put(VIEW_VERSIONS, payload.date_id, (store.get_for_update(VIEW_VERSIONS, payload.date_id) or 0) + 1)
    is_free = seat.status == SeatStatus.AVAILABLE
    if was_free != is_free:
        free = store.get_for_update(FREE_SEATS, payload.date_id)
        store.put(FREE_SEATS, payload.date_id, free + (1 if is_free else -1))


def view_version(store: Store, date_id: int) -> int:
    """How many seat changes of ``date_id`` the view has committed."""
    return store.get(VIEW_VERSIONS, date_id) or 0


@dataclass(slots=True, frozen=True)
class CachedListing:
    """One date's free seats as read from the view at ``version``, stored at ``filled_at``;
    ``listing_id`` names the fill in the trace (empty where nothing records it)."""

    free: tuple[int, ...]
    filled_at: float
    version: int
    listing_id: str = ""


class SeatCache:
    """Concert's in-memory cache of each date's free seats (seed 3.2: "invalidates its cache").

    ``invalidated``: a listing is served until a seat change of its date is committed to the view
    and :meth:`invalidate` drops it, or until it is ``ttl`` seconds old. The invalidation follows
    the view's commit of the seat event, so until Concert handles the event the cache shows the
    seat as free (as the view does); and a listing read from the view before a change but stored
    after that change's invalidation (the "stale set" race of cache-aside) is served until its
    ``ttl``. ``versioned``: a listing is served while the view's version of its date is the one it
    was read at (a version read on every listing), so it is never staler than the view. ``ttl``: a
    listing is served for ``ttl`` seconds whatever changes. A restarted Concert starts empty.
    """

    def __init__(self, mode: str, ttl: float) -> None:
        self.mode, self.ttl = mode, ttl
        self.listings: dict[int, CachedListing] = {}

    def lookup(self, date_id: int, *, now: float, version: int | None = None) -> CachedListing | None:
        """The cached listing of ``date_id`` if it may still be served, else None. ``version``
        (the view's current version of the date) is consulted in ``versioned`` mode only."""
        listing = self.listings.get(date_id)
        if listing is None:
            return None
        if self.mode == "versioned":
            return listing if listing.version == version else None
        return listing if now - listing.filled_at < self.ttl else None

    def fill(self, date_id: int, free: tuple[int, ...], *, now: float, version: int, listing_id: str = "") -> None:
        """Store ``free`` (read from the view at ``version``) as ``date_id``'s listing."""
        self.listings[date_id] = CachedListing(free, now, version, listing_id)

    def invalidate(self, date_id: int) -> None:
        """Drop ``date_id``'s listing (a seat change of the date was committed to the view); a
        ``ttl`` cache is never invalidated."""
        if self.mode != "ttl":
            self.listings.pop(date_id, None)


def record_sale(store: Store, payload: ReservationCompleted) -> None:
    """Count a sale for the ranking. A date sells out at its latest confirmation, whatever order
    the sales arrive in (different seats travel in different partitions). A plain counter: a
    duplicate delivery counts twice, which is why consumers de-duplicate (seed 4.2.3)."""
    tally = store.get_for_update(TALLIES, payload.date_id)
    tally.sold_count += 1
    tally.last_sale_at = max(tally.last_sale_at or payload.confirmed_at, payload.confirmed_at)
    if tally.sold_count == tally.seats:
        tally.sold_out_at = tally.last_sale_at
    store.put(TALLIES, payload.date_id, tally)


def ranking(store: Store) -> list[tuple[int, float]]:
    """Sold-out dates as (date id, seconds from opening to sell-out), fastest first."""
    tallies = store.get_many(TALLIES, store.keys(TALLIES))
    return sorted(
        ((t.date_id, t.sold_out_at - t.opens_at) for t in tallies if t.sold_out_at is not None),
        key=lambda entry: (entry[1], entry[0]),
    )


def ranking_from_sales(
    dates: Iterable[ConcertDate], confirmed: Iterable[tuple[int, float]]
) -> list[tuple[int, float]]:
    """The ranking the projection must converge to, from (date id, confirmed_at) of every confirmed
    reservation: a date sold out when all its seats are confirmed, at the last confirmation."""
    confirmed = list(confirmed)
    counts = Counter(date_id for date_id, _ in confirmed)
    last = {}
    for date_id, confirmed_at in confirmed:
        last[date_id] = max(confirmed_at, last.get(date_id, confirmed_at))
    return sorted(
        ((d.date_id, last[d.date_id] - d.opens_at) for d in dates if counts.get(d.date_id, 0) == d.seats),
        key=lambda entry: (entry[1], entry[0]),
    )
