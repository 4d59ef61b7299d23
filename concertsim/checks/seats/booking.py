"""Seats: never sold twice, and released when a hold expires (seed 4.1, problem 3)."""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.applicability import hold_ran_out, seat_held
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.models import reservations
from concertsim.models.events import SeatReserved
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.sim.run.result import RunResult

_OPEN = (ReservationStatus.HELD, ReservationStatus.PAYMENT_PENDING)


@invariant(
    "no-double-booking",
    "safety",
    "No seat is ever held or sold for two reservations at the same moment.",
    applies=seat_held,
)
def no_double_booking(result: RunResult) -> list[Violation]:
    """Replays the seat events in commit order: a seat claimed while another reservation still
    holds it, or two confirmed reservations of one seat, is a double booking."""
    holder: dict[tuple[int, int], str] = {}
    held_by_record: dict[tuple[int, int], int] = {}
    violations = []
    for record in result.trace.of_kind("event.raised"):
        payload = record.data["payload"]
        if "seat_no" not in payload:
            continue
        seat = (payload["date_id"], payload["seat_no"])
        reservation_id = payload["reservation_id"]
        event_type = record.data["type"]
        if event_type == "SeatReservedEvent":
            current = holder.get(seat)
            if current is not None and current != reservation_id:
                violations.append(
                    Violation(
                        "no-double-booking",
                        f"seat {seat[1]} of date {seat[0]} held for {reservation_id} while "
                        f"{current} still had it",
                        at=record.at,
                        evidence={"date_id": seat[0], "seat_no": seat[1], "reservations": [current, reservation_id]},
                        records=(held_by_record[seat], record.seq),
                        saga=reservation_id,
                    )
                )
            holder[seat] = reservation_id
            held_by_record[seat] = record.seq
        elif event_type in ("ReservationExpiredEvent", "ReservationFailedEvent") and holder.get(seat) == reservation_id:
            del holder[seat]
    confirmed: dict[tuple[int, int], list[str]] = defaultdict(list)
    for r in result.table("reservation", reservations.RESERVATIONS).values():
        if r.status == ReservationStatus.CONFIRMED:
            confirmed[(r.date_id, r.seat_no)].append(r.reservation_id)
    for seat, owners in sorted(confirmed.items()):
        if len(owners) > 1:
            index = trace_index(result)
            sales = [index.events("reservation_id", owner, "SeatReservedEvent", "ReservationCompletedEvent")
                     for owner in owners]
            violations.append(
                Violation("no-double-booking", f"seat {seat[1]} of date {seat[0]} sold to {sorted(owners)}",
                          evidence={"date_id": seat[0], "seat_no": seat[1], "reservations": sorted(owners)},
                          records=seqs(*sales), saga=sorted(owners)[-1])
            )
    return violations


@invariant(
    "seats-released-on-expiry",
    "convergence",
    "A hold that is not paid within its TTL expires and its seat is free again: within two sweeps of "
    "its expiry when no fault was active from the hold to then, and by the end of the run always.",
    applies=hold_ran_out,
)
def seats_released_on_expiry(result: RunResult) -> list[Violation]:
    scenario = result.scenario
    end = result.phases.ended_at
    grace = 2 * scenario.rules.sweep_interval
    booked = result.table("reservation", reservations.RESERVATIONS)
    violations = []
    for r in sorted(booked.values(), key=lambda r: r.reservation_id):
        if r.status != ReservationStatus.EXPIRED or r.ended_at is None:
            continue
        offset = _clock_offset(result, r)
        due = r.hold_expires_at - offset
        late = r.ended_at - r.hold_expires_at
        if late > grace and not _fault_during(result, r.held_at - offset, due + grace):
            violations.append(
                Violation(
                    "seats-released-on-expiry",
                    f"{r.reservation_id} expired {late:.1f}s after its hold ran out at {due:.1f} "
                    f"(at most {grace:g}s: two sweeps), with no fault active; seat {r.seat_no} of date "
                    f"{r.date_id} stayed blocked meanwhile",
                    at=r.hold_expires_at,
                    evidence={"reservation_id": r.reservation_id, "hold_expires_at": due,
                              "expired_at": r.ended_at - offset, "late_by": late},
                    records=seqs(trace_index(result).events("reservation_id", r.reservation_id)),
                    saga=r.reservation_id,
                )
            )
    for r in sorted(booked.values(), key=lambda r: r.reservation_id):
        if r.status in _OPEN and r.hold_expires_at + grace <= end:
            violations.append(
                Violation(
                    "seats-released-on-expiry",
                    f"{r.reservation_id} is still {r.status} {end - r.hold_expires_at:.0f}s after its "
                    f"hold expired at {r.hold_expires_at:.1f}; seat {r.seat_no} of date {r.date_id} "
                    "is never released",
                    at=r.hold_expires_at,
                    evidence={"reservation_id": r.reservation_id, "status": str(r.status),
                              "hold_expires_at": r.hold_expires_at},
                    records=seqs(trace_index(result).events("reservation_id", r.reservation_id)),
                    saga=r.reservation_id,
                )
            )
    for (date_id, seat_no), seat in sorted(result.table("reservation", reservations.SEATS).items()):
        if seat.status == SeatStatus.AVAILABLE or seat.reservation_id is None:
            continue
        owner = booked.get(seat.reservation_id)
        if owner is not None and owner.status in (ReservationStatus.EXPIRED, ReservationStatus.FAILED):
            violations.append(
                Violation(
                    "seats-released-on-expiry",
                    f"seat {seat_no} of date {date_id} is {seat.status} for {owner.reservation_id}, "
                    f"which is {owner.status}",
                    at=owner.ended_at,
                    evidence={"date_id": date_id, "seat_no": seat_no,
                              "reservation_id": owner.reservation_id},
                    records=seqs(trace_index(result).events("reservation_id", owner.reservation_id)),
                    saga=owner.reservation_id,
                )
            )
    return violations


def _clock_offset(result: RunResult, reservation: reservations.Reservation) -> float:
    """How far Reservation's clock was from simulated time when ``reservation``'s hold was taken
    (0 unless a ``clock_skew`` fault shifted it): its own timestamps are in that clock, the faults
    in simulated time. The SeatReservedEvent it raised then was recorded in simulated time. A
    skew that changed while the hold was open is itself a fault in the hold's window."""
    raised = trace_index(result).events("reservation_id", reservation.reservation_id, SeatReserved.TYPE)
    if not raised:
        return 0.0
    return reservation.held_at - result.trace.lookup(raised[:1])[raised[0]].at


def _fault_during(result: RunResult, start: float, end: float) -> bool:
    """Whether any fault was active at some moment of [start, end] (a fault still active at heal
    counts as active until then)."""
    heal = result.phases.heal_at
    return any(
        w["start"] <= end and (w["end"] if w.get("end") is not None else heal) >= start
        for w in result.fault_windows
    )
