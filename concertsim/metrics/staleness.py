"""Read-model staleness: how far Concert's seat view, Concert's sales tally (the ranking's input)
and Data Platform's collection lag behind the truth in Reservation.

The truth changes where Reservation commits a seat event (``event.raised`` by Reservation); a read
model catches up where its consumer group handles an event (``consumer.handled``). Both sides
apply the same projection to the events they see (:func:`project_seat`, the rule of
``models.concert.apply_seat_event`` and of Reservation's own seat changes), so a seat's truth and
its view can be compared at every moment without reading the live simulation:

- *seat view*: a change of a seat in the truth is caught up at the first moment, at or after it,
  when Concert's view of that seat equals the truth (status and holder). A change that the view
  skips because a later one superseded it is caught up when the view shows the later truth.
- *ranking* and *Data Platform*: each confirmed sale (ReservationCompletedEvent) is caught up when
  the group first handles it (Concert's tally counts it; Data Platform collects it).

Each change is a *lag interval* from the change to its catching up (open at the end if it never
caught up); :mod:`concertsim.metrics.lag_series` turns them into a time series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from concertsim.metrics.distribution import summarize_ms
from concertsim.metrics.lag_series import LagInterval, lag_series
from concertsim.metrics.records import RecordsByKind, in_trace_order
from concertsim.models.events import ReservationCompleted, ReservationExpired, ReservationFailed, SeatReserved
from concertsim.sim.infrastructure.parties import service_of

__all__ = ["staleness", "project_seat", "replay_seats", "SeatReplay", "sale_lags", "SeatState", "READ_MODELS"]

SeatState = tuple[str, str | None]
"""A seat as a projection shows it: (status, reservation holding it or None)."""

AVAILABLE: SeatState = ("AVAILABLE", None)
_SEAT_EVENTS = frozenset(
    {SeatReserved.TYPE, ReservationCompleted.TYPE, ReservationExpired.TYPE, ReservationFailed.TYPE}
)
_TRUTH = "reservation"
READ_MODELS = {
    "seat_view": "Concert's seat view",
    "ranking": "Concert's sales tally (the ranking)",
    "data_platform": "Data Platform's collection",
}
"""The read models measured, by their key in ``metrics.staleness``, with what each one is."""


def project_seat(seat: SeatState, event_type: str, reservation_id: str) -> SeatState:
    """The seat after one event: SeatReserved holds it for the reservation, ReservationCompleted
    sells it, and a release (expired, failed) frees it only if it is still that reservation's."""
    if event_type == SeatReserved.TYPE:
        return ("HELD", reservation_id)
    if event_type == ReservationCompleted.TYPE:
        return ("SOLD", reservation_id)
    if seat[1] == reservation_id:
        return AVAILABLE
    return seat


@dataclass(frozen=True, slots=True)
class SeatReplay:
    """Reservation's seats and Concert's view of them, replayed from the trace: one lag interval
    per change of a seat in the truth, in the order of the changes (changed at, caught up at or
    None), and each seat's state at the end on both sides, by the seat's event key
    (``seat-<date>-<seat>``; a seat no event touched is AVAILABLE on both)."""

    intervals: list[LagInterval]
    truth: dict[str, SeatState]
    view: dict[str, SeatState]


def replay_seats(records: RecordsByKind, group: str = "concert") -> SeatReplay:
    """Replay Reservation's seat events (its truth) and ``group``'s handling of them (its view) in
    trace order, noting when each change of the truth was caught up."""
    seat_events: dict[str, tuple[str, str, str]] = {}  # event id -> (seat key, type, reservation)
    truth: dict[str, SeatState] = {}
    view: dict[str, SeatState] = {}
    waiting: dict[str, list[int]] = {}  # seat -> indices of its changes the view has not shown
    intervals: list[list[Any]] = []
    for record in in_trace_order(records, "event.raised", "consumer.handled"):
        data = record.data
        if record.kind == "event.raised":
            if service_of(record.party) != _TRUTH or data["type"] not in _SEAT_EVENTS:
                continue
            seat, event_type, reservation_id = data["key"], data["type"], data["payload"]["reservation_id"]
            seat_events[data["event_id"]] = (seat, event_type, reservation_id)
            before = truth.get(seat, AVAILABLE)
            after = truth[seat] = project_seat(before, event_type, reservation_id)
            if after == before:
                continue
            intervals.append([record.at, None])
            waiting.setdefault(seat, []).append(len(intervals) - 1)
            shown = view.get(seat, AVAILABLE)
        else:
            if data["group"] != group or data["event_id"] not in seat_events:
                continue
            seat, event_type, reservation_id = seat_events[data["event_id"]]
            shown = view[seat] = project_seat(view.get(seat, AVAILABLE), event_type, reservation_id)
        if shown == truth.get(seat, AVAILABLE) and waiting.get(seat):
            for index in waiting.pop(seat):
                intervals[index][1] = record.at
    return SeatReplay([(start, end) for start, end in intervals], truth, view)


def sale_lags(records: RecordsByKind, group: str) -> list[LagInterval]:
    """One lag interval per confirmed sale (ReservationCompletedEvent raised by Reservation): until
    ``group`` first handled it."""
    first_handled: dict[str, float] = {}
    for record in records.get("consumer.handled", ()):
        if record.data["group"] == group and record.data["type"] == ReservationCompleted.TYPE:
            first_handled.setdefault(record.data["event_id"], record.at)
    return [
        (record.at, first_handled.get(record.data["event_id"]))
        for record in records.get("event.raised", ())
        if service_of(record.party) == _TRUTH and record.data["type"] == ReservationCompleted.TYPE
    ]


def _lag_summary(intervals: list[LagInterval], run_ended_at: float) -> dict[str, Any]:
    caught_up = [end - start for start, end in intervals if end is not None]
    return {
        "changes": len(intervals),
        "caught_up": len(caught_up),
        "never_caught_up": len(intervals) - len(caught_up),
        "lag_ms": {k: v for k, v in summarize_ms(caught_up).items() if k != "count"},
        "series": lag_series(intervals, run_ended_at),
    }


def staleness(records: RecordsByKind, run_ended_at: float) -> dict[str, dict[str, Any]]:
    """Per read model (:data:`READ_MODELS`): ``changes`` of the truth, how many were ``caught_up``
    and ``never_caught_up``, the ``lag_ms`` (p50, p95, p99, max) of those caught up, and the
    ``series`` of :func:`~concertsim.metrics.lag_series.lag_series`."""
    return {
        "seat_view": _lag_summary(replay_seats(records).intervals, run_ended_at),
        "ranking": _lag_summary(sale_lags(records, "concert"), run_ended_at),
        "data_platform": _lag_summary(sale_lags(records, "data_platform"), run_ended_at),
    }
