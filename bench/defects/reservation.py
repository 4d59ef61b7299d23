"""The reservation service and its domain: holds, payments and idempotency keys (seed 3.1, 4.2.1, 4.2.2)."""

from __future__ import annotations

from .defect import Defect, BOTH, SYNC, RICH, CHOREOGRAPHY, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="reservation-confirms-when-point-did-not-answer",
        path="concertsim/sim/services/reservation.py",
        before="    if used.ok:",
        after="    if not isinstance(used, Failed):",
        flows=SYNC,
        why="Treating a timed-out point.use as success confirms reservations whose deduction "
        "never happened: free tickets (no-orphaned-deduction).",
        witness=(
            faults("{at: 0, kind: drop, target: request, match: {message_type: point.use, count: 2}}"),
        ),
    ),
    Defect(
        id="reservation-new-idempotency-key-per-request",
        path="concertsim/sim/services/payments.py",
        before='"idempotency_key": reservations.payment_id_for(reservation_id),',
        after='"idempotency_key": host.world.next_id("pay"),',
        flows=BOTH,
        why="Minting a fresh idempotency key for each payment request instead of deriving it from "
        "the reservation makes a client's retried payment deduct points a second time "
        "(no-orphaned-deduction).",
        witness=(
            *RICH, faults("{at: 9.6, kind: crash, target: reservation}"),
        ),
    ),
    Defect(
        id="reservation-confirm-misses-swept-hold",
        path="concertsim/sim/services/payments.py",
        before="        except (HoldExpired, ReservationClosed) as refusal:",
        after="        except HoldExpired as refusal:",
        flows=BOTH,
        why="Compensating only a hold that ran out, not one the sweeper already closed, makes a "
        "PointUsedEvent that arrives after the sweep fail until it is parked in the dead-letter "
        "topic for good, holding up the payments behind it (the sweeper's own refund keeps the "
        "points right; no invariant states that dead letters drain).",
        witness=(
            CHOREOGRAPHY, "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
            faults("{at: 0, kind: delay, target: delivery, match: {message_type: PointUsedEvent}, params: {seconds: 30}}"),
        ),
    ),
    Defect(
        id="reservations-hold-only-refuses-sold-seats",
        path="concertsim/models/reservations.py",
        before="    if seat.status != SeatStatus.AVAILABLE:",
        after="    if seat.status == SeatStatus.SOLD:",
        flows=BOTH,
        why="Refusing only sold seats lets a second buyer hold a seat someone else holds, which "
        "the lagging seat view cannot prevent (no-double-booking).",
        witness=("seed=15",),
    ),
)
