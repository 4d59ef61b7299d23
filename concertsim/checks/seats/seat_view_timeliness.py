"""``seat-view-timely``: Concert's seat view shows a seat that Reservation holds or sold as free
only while an event about that seat is still on its way to Concert (seed 3.2: the view follows
Reservation's seat events).

The view lags its truth by design: a hold is committed in Reservation, its SeatReservedEvent
leaves through the outbox relay (``broker.relay_poll_interval``), the broker and Concert's
consumer, and until Concert has handled it the view still shows the seat free. How long that takes
depends on the load and on every fault the events meet, so the bound is not a number of seconds
guessed in advance but the seat's own events: once Concert has handled every event raised about a
seat, its view of the seat must show what Reservation shows. A view that shows a held or sold seat
free after that, for any length of time, offers buyers a seat that is gone (they are refused at
the hold) and stays wrong until a later event of the seat happens to overwrite it.

Judged from the trace, never the live view: Reservation's truth replays its seat events in the
order it raised them (SeatReserved holds the seat for its reservation, ReservationCompleted sells
it, ReservationExpired and ReservationFailed of the holding reservation free it), checked against
Reservation's final seats (a seat whose replay ends elsewhere is not judged); the view replays the
events Concert handled, in the order it handled them, through Concert's own projection
(:func:`concertsim.models.concert.apply_seat_event`). A stretch is excused by a fault that could
have affected the seat's events (Reservation, the broker, Concert; the four seat events; Concert's
consumer group) from the last moment view and truth agreed to the stretch's end, by the rule of
:mod:`concertsim.checks.fault_relevance`: a redelivery after a crash or a lost offset commit can
hand Concert an old event again.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.checks.fault_relevance import BROKER, Operation, fault_scope
from concertsim.models import concert, reservations
from concertsim.models.events import (
    PAYLOAD_TYPES,
    EventPayload,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
)
from concertsim.models.reservations import SeatStatus
from concertsim.models.store import MemoryStore
from concertsim.sim.run.concert_migration import NEW_CONCERT
from concertsim.sim.run.result import RunResult

__all__ = ["SEAT_EVENTS", "seat_payload"]

SEAT_EVENTS = (SeatReserved.TYPE, ReservationCompleted.TYPE, ReservationExpired.TYPE, ReservationFailed.TYPE)
_GROUP = "concert"
_TAKEN = (SeatStatus.HELD, SeatStatus.SOLD)


def seat_payload(event_type: str, body: dict[str, Any]) -> EventPayload | None:
    """The payload of a seat event as raised (``body``), read leniently: fields a reader does not
    know are dropped; None if it cannot be read at all."""
    try:
        return PAYLOAD_TYPES[event_type].model_validate(body)
    except ValidationError:
        known = PAYLOAD_TYPES[event_type].model_fields
        try:
            return PAYLOAD_TYPES[event_type].model_validate({k: v for k, v in body.items() if k in known})
        except ValidationError:
            return None


class _Seat:
    """One seat's truth, Concert's replayed view of it, and the events still on their way."""

    __slots__ = ("address", "truth", "holder", "view", "pending", "agreed_at", "wrong_since", "wrong_holder",
                 "records", "stretches", "readable")

    def __init__(self, address: tuple[int, int]) -> None:
        self.address = address
        self.truth, self.holder = SeatStatus.AVAILABLE, None
        self.view = MemoryStore()
        free = concert.SeatView(address[0], address[1], SeatStatus.AVAILABLE, None, 0.0)
        self.view.put(concert.SEAT_VIEW, address, free)
        self.view.put(concert.FREE_SEATS, address[0], 1)
        self.pending: set[str] = set()
        self.agreed_at = 0.0
        self.wrong_since: float | None = None
        self.wrong_holder: str | None = None
        self.records: list[int] = []
        self.stretches: list[tuple[float, float, float, tuple[int, ...], str | None]] = []
        self.readable = True

    def raised(self, payload: EventPayload) -> None:
        reservation_id = payload.reservation_id  # type: ignore[attr-defined]
        if isinstance(payload, SeatReserved):
            self.truth, self.holder = SeatStatus.HELD, reservation_id
        elif isinstance(payload, ReservationCompleted):
            self.truth, self.holder = SeatStatus.SOLD, reservation_id
        elif self.holder == reservation_id:
            self.truth, self.holder = SeatStatus.AVAILABLE, None

    def shown(self) -> concert.SeatView:
        return self.view.get(concert.SEAT_VIEW, self.address)

    def settle(self, at: float, seq: int) -> None:
        """Note whether, after the record ``seq`` at ``at``, the caught-up view frees a taken seat."""
        shown = self.shown()
        if shown.status == self.truth and (self.truth == SeatStatus.AVAILABLE or shown.reservation_id == self.holder):
            self.agreed_at = at
        wrong = not self.pending and self.truth in _TAKEN and shown.status == SeatStatus.AVAILABLE
        if wrong and self.wrong_since is None:
            self.wrong_since, self.wrong_holder = at, self.holder
            self.records = [seq]
        elif not wrong and self.wrong_since is not None:
            self.close(at, seq)

    def close(self, at: float, seq: int | None) -> None:
        assert self.wrong_since is not None
        if at > self.wrong_since:
            ends = () if seq is None else (seq,)
            self.stretches.append((self.agreed_at, self.wrong_since, at, (*self.records, *ends), self.wrong_holder))
        self.wrong_since = None


@invariant(
    "seat-view-timely",
    "safety",
    "Concert's seat view shows a seat Reservation holds or sold as free only while an event about "
    "that seat is on its way to Concert.",
)
def seat_view_timely(result: RunResult) -> list[Violation]:
    seats: dict[tuple[int, int], _Seat] = {}
    raised: dict[str, tuple[tuple[int, int], EventPayload, int]] = {}
    # event id -> the group whose handling of it the replay follows: Concert's, or, for an event
    # raised by a service that has left Concert's former process, the split-out Concert's.
    follower: dict[str, str] = {}
    for record in result.trace.of_kind("event.raised", "consumer.handled"):
        data = record.data
        if record.kind == "event.raised":
            if data["type"] not in SEAT_EVENTS:
                continue
            body = data["payload"]
            address = (body["date_id"], body["seat_no"])
            seat = seats.get(address)
            if seat is None:
                seat = seats[address] = _Seat(address)
            payload = seat_payload(data["type"], body)
            if payload is None:
                seat.readable = False
                continue
            raised[data["event_id"]] = (address, payload, record.seq)
            seat.raised(payload)
            owed = result.subscribers(data["type"], record.party, not data.get("in_process", False))
            projecting = [g for g in (_GROUP, NEW_CONCERT) if g in owed]
            if projecting:
                seat.pending.add(data["event_id"])
                follower[data["event_id"]] = projecting[0]
        elif data["event_id"] in raised and data.get("group") == follower.get(data["event_id"]):
            address, payload, _ = raised[data["event_id"]]
            seat = seats[address]
            seat.pending.discard(data["event_id"])
            concert.apply_seat_event(seat.view, payload, record.at)
        else:
            continue
        seat.settle(record.at, record.seq)
    ended_at = result.phases.ended_at
    final = result.table("reservation", reservations.SEATS)
    scope = fault_scope(result)
    violations = []
    for address in sorted(seats):
        seat = seats[address]
        if seat.wrong_since is not None:
            seat.close(ended_at, None)
        truth = final.get(address)
        if not seat.readable or truth is None or truth.status != seat.truth:
            continue  # the replay does not reproduce Reservation's seat: nothing to judge it by
        for agreed_at, since, until, records, holder in seat.stretches:
            operation = Operation(agreed_at, until, frozenset({"reservation", "concert", BROKER}),
                                  events=frozenset(SEAT_EVENTS), groups=frozenset({_GROUP}))
            if scope.excusing(operation):
                continue
            violations.append(
                Violation(
                    "seat-view-timely",
                    f"seat {address[1]} of date {address[0]}: Concert showed it free for {until - since:.1f}s "
                    f"from {since:.1f}s while Reservation had it taken by {holder}, with every event about it "
                    "handled",
                    at=since,
                    evidence={"date_id": address[0], "seat_no": address[1], "since": since, "until": until,
                              "reservation_id": holder},
                    records=seqs(records, trace_index(result).seat_events(*address)),
                    saga=holder,
                )
            )
    return violations
