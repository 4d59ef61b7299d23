"""``seat-cache-bounded``: a seat listing served from Concert's cache shows free a seat that the
view has committed as taken only within the cache's own bound of staleness (seed 3.2: "Concert
consumes SeatReservedEvent and invalidates its cache").

A cache in front of the seat view may lag it, but each kind promises how far:

- ``invalidated``: until the commit's invalidation. The commit of a seat change to the view drops
  its date's listing, so a listing stored before that invalidation is never served after it. A
  listing read from the view before the change and stored after its invalidation (the stale-set
  race of cache-aside) is the design's known race: it is served at most ``seat_cache.ttl`` after
  it was stored.
- ``versioned``: no lag at all. A listing is served only while the view's version of its date is
  the one it was read at, so it never shows free a seat taken by a commit before the serving.
- ``ttl``: a seat taken for ``seat_cache.ttl`` seconds or longer is never shown free.

Judged from the trace, never the live cache: the view replays the seat events Concert handled
(``consumer.handled`` of its group) through Concert's own projection; a listing is what its
``cache.fill`` record shows free, served by a ``cache.hit`` naming it; an invalidation is a
``cache.invalidate`` record of the serving host, linked to the seat's next commit (the
invalidation runs inside the commit, before its handling is recorded). Before Concert has handled a
seat event the view shows the seat free as well, so the listing is not behind the view: the
invalidation is still on its way. A serving past the bound is excused by a fault that could have
delayed the invalidation or aged the listing (one on Concert, from the commit, or for an age, from
the fill, to the serving: a paused or skewed Concert), by the rule of
:mod:`concertsim.checks.fault_relevance`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from concertsim.checks.applicability import seat_listing_cached
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs
from concertsim.checks.fault_relevance import Operation, fault_scope
from concertsim.checks.seats.seat_view_timeliness import SEAT_EVENTS, seat_payload
from concertsim.models import concert
from concertsim.models.events import EventPayload
from concertsim.models.reservations import SeatStatus
from concertsim.models.store import MemoryStore
from concertsim.sim.infrastructure.trace import TraceRecord
from concertsim.sim.run.result import RunResult

__all__ = ["INVARIANT"]

INVARIANT = "seat-cache-bounded"
_GROUP = "concert"
_CONCERT = frozenset({"concert"})


@dataclass(slots=True)
class _Taken:
    """Since when the view shows one seat taken, and its latest commit while taken."""

    since_at: float
    since_seq: int
    commit_at: float
    commit_seq: int
    invalidated: dict[str, TraceRecord] = field(default_factory=dict)
    """serving host -> its ``cache.invalidate`` record of the latest commit"""


@dataclass(slots=True)
class _Stale:
    seat_no: int
    taken: _Taken
    reason: str
    excusable_from: float
    records: tuple[int, ...]


class _View:
    """Concert's seat view replayed from the seat events it handled, with what the seat cache
    invalidated for each commit."""

    def __init__(self) -> None:
        self.stores: dict[tuple[int, int], MemoryStore] = {}
        self.taken: dict[tuple[int, int], _Taken] = {}
        self.pending: dict[tuple[int, int], dict[str, TraceRecord]] = {}

    def _store(self, address: tuple[int, int]) -> MemoryStore:
        store = self.stores.get(address)
        if store is None:
            store = self.stores[address] = MemoryStore()
            store.put(concert.SEAT_VIEW, address, concert.SeatView(*address, SeatStatus.AVAILABLE, None, 0.0))
            store.put(concert.FREE_SEATS, address[0], 1)
        return store

    def invalidated(self, record: TraceRecord) -> None:
        for seat_no in record.data["seats"]:
            self.pending.setdefault((record.data["date"], seat_no), {})[record.party] = record

    def handled(self, record: TraceRecord, payload: EventPayload) -> None:
        address = (payload.date_id, payload.seat_no)  # type: ignore[attr-defined]
        store = self._store(address)
        before = store.get(concert.SEAT_VIEW, address)
        concert.apply_seat_event(store, payload, record.at)
        after = store.get(concert.SEAT_VIEW, address)
        invalidations = self.pending.pop(address, {})
        if after is before:
            return  # a release of another reservation's seat: the view was not written
        if after.status == SeatStatus.AVAILABLE:
            self.taken.pop(address, None)
            return
        taken = self.taken.get(address)
        if taken is None:
            taken = self.taken[address] = _Taken(record.at, record.seq, record.at, record.seq)
        taken.commit_at, taken.commit_seq, taken.invalidated = record.at, record.seq, invalidations


def _stale_seat(
    mode: str, ttl: float, hit: TraceRecord, fill: TraceRecord, seat_no: int, taken: _Taken
) -> _Stale | None:
    """Why ``seat_no``, shown free by the listing ``fill`` served at ``hit`` but taken in the view,
    is staler than the cache promises; None if it is within the bound."""
    if mode == "versioned":
        return _Stale(seat_no, taken, f"taken since {taken.since_at:.3f}s, before the listing was served",
                      taken.since_at, (taken.since_seq,))
    if mode == "ttl":
        if hit.at - taken.since_at < ttl:
            return None
        return _Stale(seat_no, taken, f"taken since {taken.since_at:.3f}s, {ttl:g}s or more before",
                      taken.since_at, (taken.since_seq,))
    invalidation = taken.invalidated.get(hit.party)
    due_seq = invalidation.seq if invalidation is not None else taken.commit_seq
    if fill.seq < due_seq:
        done = (f"invalidated at {invalidation.at:.3f}s" if invalidation is not None
                else "never invalidated")
        return _Stale(seat_no, taken, f"committed taken at {taken.commit_at:.3f}s and {done}, after the "
                      "listing was stored", taken.commit_at,
                      (taken.commit_seq, *((invalidation.seq,) if invalidation is not None else ())))
    if hit.at - fill.at < ttl:
        return None  # the stale-set race: stored after the invalidation, served within its ttl
    return _Stale(seat_no, taken, f"committed taken at {taken.commit_at:.3f}s, and the listing, stored after "
                  f"its invalidation, served {hit.at - fill.at:.3f}s after it was stored (ttl {ttl:g}s)",
                  fill.at, (taken.commit_seq,))


@invariant(
    INVARIANT,
    "safety",
    "A seat listing served from Concert's cache shows free a seat the view has committed as taken only "
    "within the cache's bound: until the commit's invalidation (invalidated; a listing stored after it "
    "for at most its ttl), never (versioned), for less than its ttl (ttl).",
    seat_listing_cached,
)
def seat_cache_bounded(result: RunResult) -> list[Violation]:
    spec = result.scenario.seat_cache
    view = _View()
    raised: dict[str, EventPayload] = {}
    fills: dict[str, TraceRecord] = {}
    scope = fault_scope(result)
    violations = []
    for record in result.trace.of_kind("event.raised", "consumer.handled", "cache.invalidate", "cache.fill",
                                       "cache.hit"):
        data = record.data
        if record.kind == "event.raised":
            if data["type"] in SEAT_EVENTS:
                payload = seat_payload(data["type"], data["payload"])
                if payload is not None:
                    raised[data["event_id"]] = payload
        elif record.kind == "consumer.handled":
            payload = raised.get(data["event_id"]) if data.get("group") == _GROUP else None
            if payload is not None:
                view.handled(record, payload)
        elif record.kind == "cache.invalidate":
            view.invalidated(record)
        elif record.kind == "cache.fill":
            fills[data["listing"]] = record
        else:
            fill = fills.get(data.get("listing", ""))
            if fill is None:
                continue  # a listing whose fill the trace does not show: nothing to judge it by
            date_id = fill.data["date"]
            stale = []
            for seat_no in fill.data["free"]:
                taken = view.taken.get((date_id, seat_no))
                if taken is not None:
                    found = _stale_seat(spec.mode, spec.ttl, record, fill, seat_no, taken)
                    if found is not None:
                        stale.append(found)
            if not stale:
                continue
            operation = Operation(min(s.excusable_from for s in stale), record.at, _CONCERT)
            if scope.excusing(operation):
                continue
            violations.append(_violation(spec.mode, record, fill, stale))
    return violations


def _violation(mode: str, hit: TraceRecord, fill: TraceRecord, stale: list[_Stale]) -> Violation:
    first = stale[0]
    evidence: dict[str, Any] = {
        "mode": mode, "date_id": fill.data["date"], "listing": fill.data["listing"], "host": hit.party,
        "stored_at": fill.at, "served_at": hit.at, "seats": [s.seat_no for s in stale],
    }
    return Violation(
        INVARIANT,
        f"{hit.party} served listing {fill.data['listing']} of date {fill.data['date']} (stored at "
        f"{fill.at:.3f}s) at {hit.at:.3f}s showing {len(stale)} taken seat(s) free; seat {first.seat_no} "
        f"was {first.reason}",
        at=hit.at,
        evidence=evidence,
        records=seqs((hit.seq, fill.seq), *(s.records for s in stale)),
    )
