"""The promise of Concert's move out of the monolith (seed 9, the third stage;
:mod:`concertsim.sim.run.concert_migration`): while users buy, what Concert derived from
Reservation's seat events (the seat view, the free-seat counts, the sales behind the ranking) moves
to its new store neither lost nor applied twice, and from the cutover no store shows a seat in a
state its events have already changed.

Judged from the trace against Reservation's truth: its seat events replayed in the order it raised
them (:func:`concertsim.models.concert.apply_seat_event`, the projection's own rule). An event is on
its way until the store that owned the projection when it was handled has handled it (the old store
in the raising transaction, the new one from the broker). A seat listing or seat check answered
from the first switch on must show each seat as the truth shows it at the read's start or end,
unless an event of the seat was on its way then; at the end, the owner's view, free-seat counts and
sales tallies must be the truth's for every date with no event on its way.

"Not applicable" when no plan moved Concert, or when its plan never copied Concert's data.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from typing import Any

from concertsim.checks.applicability import service_moved
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import plan_steps_of, seqs
from concertsim.models import concert
from concertsim.models.events import PAYLOAD_TYPES, ReservationCompleted
from concertsim.models.store import MemoryStore
from concertsim.sim.run.concert_migration import NEW_CONCERT, OLD_CONCERT, OWNER_TABLE
from concertsim.sim.run.result import RunResult

__all__ = ["concert_moved"]

_ID = "migration-concert-view-kept"
_SEAT_EVENTS = ("SeatReservedEvent", "ReservationCompletedEvent", "ReservationExpiredEvent",
                "ReservationFailedEvent")
_GROUPS = {OLD_CONCERT: OLD_CONCERT, NEW_CONCERT: NEW_CONCERT}
_NAMES = {OLD_CONCERT: "the old store", NEW_CONCERT: "the new store"}


def concert_moved(result: RunResult) -> str | None:
    """A plan moving Concert ran and copied its data."""
    return service_moved(result, "concert", "Concert")


class _Truth:
    """Reservation's seat events replayed: each seat's free/taken changes over time, and when each
    event stopped being on its way to Concert."""

    def __init__(self, result: RunResult) -> None:
        self.dates = {d.date_id: d for d in result.table(OLD_CONCERT, concert.DATES).values()}
        self.store = MemoryStore()
        for d in self.dates.values():
            concert.add_date(self.store, date_id=d.date_id, opens_at=d.opens_at, seats=d.seats, price=d.price)
        switches: list[tuple[float, str]] = [(0.0, OLD_CONCERT)]
        for r in result.trace.of_kind("migration.moved"):
            if r.data["user_id"] == 1 and r.data["to"] in (OLD_CONCERT, NEW_CONCERT):
                switches.append((r.at, r.data["to"]))
        self.switches = switches
        self.first_switch = switches[1][0] if len(switches) > 1 else None
        taken: dict[str, float] = {}
        self.last_at = 0.0
        for r in result.trace.of_kind("consumer.handled"):
            self.last_at = max(self.last_at, r.at)
            event_id = r.data.get("event_id")
            if r.data.get("type") not in _SEAT_EVENTS or event_id in taken:
                continue
            if self._owner_at(r.at) == _GROUPS.get(r.data.get("group", ""), ""):
                taken[event_id] = r.at
        # seat -> (times of change, free after each), and (raised at, taken at) of its events
        self.changes: dict[tuple[int, int], tuple[list[float], list[bool]]] = {}
        self.events: dict[tuple[int, int], list[tuple[float, float]]] = defaultdict(list)
        self.sold: Counter[int] = Counter()
        self.seqs: dict[tuple[int, int], list[int]] = defaultdict(list)
        self.completed: set[str] = set()
        for r in result.trace.of_kind("event.raised"):
            self.last_at = max(self.last_at, r.at)
            if r.data["type"] not in _SEAT_EVENTS:
                continue
            payload = PAYLOAD_TYPES[r.data["type"]].model_validate(r.data["payload"])
            seat = (payload.date_id, payload.seat_no)  # type: ignore[attr-defined]
            if payload.date_id not in self.dates:  # type: ignore[attr-defined]
                continue
            concert.apply_seat_event(self.store, payload, r.at)
            free = self.store.get(concert.SEAT_VIEW, seat).status == concert.SeatStatus.AVAILABLE
            times, states = self.changes.setdefault(seat, ([0.0], [True]))
            times.append(r.at)
            states.append(free)
            self.events[seat].append((r.at, taken.get(r.data["event_id"], float("inf"))))
            self.seqs[seat].append(r.seq)
            if isinstance(payload, ReservationCompleted) and payload.reservation_id not in self.completed:
                self.completed.add(payload.reservation_id)
                self.sold[payload.date_id] += 1

    def _owner_at(self, at: float) -> str:
        owner = OLD_CONCERT
        for when, to in self.switches:
            if when <= at:
                owner = to
        return owner

    def free_at(self, seat: tuple[int, int], at: float) -> bool:
        times, states = self.changes.get(seat, ([0.0], [True]))
        return states[bisect.bisect_right(times, at) - 1]

    def on_its_way(self, seat: tuple[int, int], at: float) -> bool:
        return any(raised <= at < taken for raised, taken in self.events.get(seat, ()))


@invariant(
    _ID,
    "safety",
    "While Concert's data moves to its new store, no seat event's effect is lost or applied twice (the "
    "seat view, the free-seat counts and the sales counted for the ranking end as Reservation's events "
    "give them), and from the cutover no store shows a seat in a state its events have already changed.",
    applies=concert_moved,
)
def concert_view_kept(result: RunResult) -> list[Violation]:
    if concert_moved(result) is not None:
        return []  # nothing moved: what Concert derived is the other invariants' to judge
    truth = _Truth(result)
    owner = str(result.state.get("concert_migration", {}).get(OWNER_TABLE, {}).get(None, OLD_CONCERT))
    steps = [r.seq for r in plan_steps_of(result, "concert")]
    last = (len(result.trace) - 1,) if len(result.trace) else ()
    violations: list[Violation] = []

    wrong: list[tuple[Any, ...]] = []
    if truth.first_switch is not None:
        for r in result.trace.of_kind("migration.concert_read"):
            if r.at < truth.first_switch:
                continue
            date_id, began = r.data["date_id"], r.data["began"]
            if date_id not in truth.dates:
                continue
            shown_free = set(r.data["free"])
            numbers = r.data["seats"] or range(1, truth.dates[date_id].seats + 1)
            for seat_no in numbers:
                seat = (date_id, seat_no)
                shown = seat_no in shown_free
                if shown in (truth.free_at(seat, began), truth.free_at(seat, r.at)):
                    continue
                if truth.on_its_way(seat, began) or truth.on_its_way(seat, r.at):
                    continue
                wrong.append((r, seat, shown))
    if wrong:
        r, seat, shown = wrong[0]
        violations.append(Violation(
            _ID,
            f"{len(wrong)} seat(s) shown in a state their events had already changed, after the cutover: first "
            f"seat {seat[1]} of date {seat[0]} shown {'free' if shown else 'taken'} by "
            f"{_NAMES.get(r.party, r.party)} at {r.at:.3f} s ({r.data['endpoint']})",
            evidence={"count": len(wrong), "store": r.party, "date_id": seat[0], "seat_no": seat[1],
                      "shown_free": shown, "at": r.at,
                      "stores": sorted({w[0].party for w in wrong})},
            records=seqs([w[0].seq for w in wrong[:5]], truth.seqs[seat][-3:]),
        ))

    view = result.state.get(OLD_CONCERT, {})
    tallies = view.get(concert.TALLIES, {})
    seats_view = view.get(concert.SEAT_VIEW, {})
    free_counts = view.get(concert.FREE_SEATS, {})
    end = truth.last_at
    for date_id in sorted(truth.dates):
        if any(truth.on_its_way((date_id, n), end) for n in range(1, truth.dates[date_id].seats + 1)):
            continue
        tally = tallies.get(date_id)
        counted = tally.sold_count if tally is not None else 0
        if counted != truth.sold[date_id]:
            violations.append(Violation(
                _ID,
                f"date {date_id}: {_NAMES.get(owner, owner)}, which owns Concert's data at the end, counted "
                f"{counted} sale(s) for the ranking, Reservation's events give {truth.sold[date_id]} "
                f"({'a sale counted twice' if counted > truth.sold[date_id] else 'a sale not counted'})",
                evidence={"date_id": date_id, "counted": counted, "sold": truth.sold[date_id], "owner": owner},
                records=seqs(steps) or last,
            ))
        off = [n for n in range(1, truth.dates[date_id].seats + 1)
               if (seats_view.get((date_id, n)) is None
                   or (seats_view[(date_id, n)].status == concert.SeatStatus.AVAILABLE)
                   != truth.free_at((date_id, n), end))]
        expected_free = sum(1 for n in range(1, truth.dates[date_id].seats + 1) if truth.free_at((date_id, n), end))
        if off or free_counts.get(date_id) != expected_free:
            violations.append(Violation(
                _ID,
                f"date {date_id}: {_NAMES.get(owner, owner)}, which owns Concert's data at the end, shows "
                f"{len(off)} seat(s) in a state their events do not give and {free_counts.get(date_id)} seat(s) "
                f"free against {expected_free}" + (f": first seat {off[0]}" if off else ""),
                evidence={"date_id": date_id, "seats": off[:10], "free_shown": free_counts.get(date_id),
                          "free": expected_free, "owner": owner},
                records=seqs(steps, truth.seqs[(date_id, off[0])][-3:] if off else ()) or last,
            ))
    return violations
