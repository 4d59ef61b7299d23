"""Seats: never sold twice, and released when a hold expires (seed 4.1, problem 3)."""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.base import Violation, invariant
from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.sim.result import RunResult

_OPEN = (ReservationStatus.HELD, ReservationStatus.PAYMENT_PENDING)


def _claim_interval(r: reservations.Reservation, end: float) -> tuple[float, float]:
    """When ``r`` had a claim on its seat: from the hold until it ended (forever once confirmed)."""
    if r.status == ReservationStatus.CONFIRMED:
        return r.held_at, float("inf")
    return r.held_at, r.ended_at if r.ended_at is not None else end


@invariant(
    "no-double-booking",
    "safety",
    "No seat is ever held or sold for two reservations at the same moment.",
)
def no_double_booking(result: RunResult) -> list[Violation]:
    by_seat: dict[tuple[int, int], list[reservations.Reservation]] = defaultdict(list)
    for r in result.table("reservation", reservations.RESERVATIONS).values():
        by_seat[(r.date_id, r.seat_no)].append(r)
    end = result.phases.ended_at
    violations = []
    for seat, claims in sorted(by_seat.items()):
        claims.sort(key=lambda r: (r.held_at, r.reservation_id))
        for earlier, later in zip(claims, claims[1:]):
            _, earlier_end = _claim_interval(earlier, end)
            if later.held_at < earlier_end:
                violations.append(
                    Violation(
                        "no-double-booking",
                        f"seat {seat[1]} of date {seat[0]} claimed by {earlier.reservation_id} "
                        f"({earlier.status}) and {later.reservation_id} ({later.status}) at once",
                        at=later.held_at,
                        evidence={"date_id": seat[0], "seat_no": seat[1],
                                  "reservations": [earlier.reservation_id, later.reservation_id]},
                        saga=later.reservation_id,
                    )
                )
    return violations


@invariant(
    "seats-released-on-expiry",
    "convergence",
    "A hold that is not paid within its TTL expires and its seat is free again.",
)
def seats_released_on_expiry(result: RunResult) -> list[Violation]:
    scenario = result.scenario
    end = result.phases.ended_at
    grace = 2 * scenario.rules.sweep_interval
    booked = result.table("reservation", reservations.RESERVATIONS)
    violations = []
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
                    saga=owner.reservation_id,
                )
            )
    return violations
