"""``no-orphaned-deduction``: the saga's promise about money (seed 4.1, problem 1).

Each deduction ends matched by a confirmed reservation or by exactly one refund: per reservation,
the deductions not refunded number one if it is confirmed and zero otherwise.
"""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.applicability import money_moved
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.models import points, reservations
from concertsim.sim.run.result import RunResult

__all__ = ["net_deductions"]


def net_deductions(result: RunResult) -> dict[str, list[points.PointUse]]:
    """Per reservation id, its deductions that were not refunded."""
    unrefunded: dict[str, list[points.PointUse]] = defaultdict(list)
    for use in result.table("point", points.USES).values():
        if use.refunded_at is None:
            unrefunded[use.reservation_id].append(use)
    return unrefunded


@invariant(
    "no-orphaned-deduction",
    "convergence",
    "Each point deduction ends matched by a confirmed reservation or refunded exactly once.",
    applies=money_moved,
)
def no_orphaned_deduction(result: RunResult) -> list[Violation]:
    unrefunded = net_deductions(result)
    booked = result.table("reservation", reservations.RESERVATIONS)
    uses_of: dict[str, list[str]] = defaultdict(list)
    for use in result.table("point", points.USES).values():
        uses_of[use.reservation_id].append(use.use_id)
    violations = []
    for reservation_id in sorted(set(unrefunded) | {r for r, b in booked.items() if b.status == reservations.ReservationStatus.CONFIRMED}):
        reservation = booked.get(reservation_id)
        confirmed = reservation is not None and reservation.status == reservations.ReservationStatus.CONFIRMED
        expected = 1 if confirmed else 0
        open_uses = unrefunded.get(reservation_id, [])
        if len(open_uses) == expected:
            continue
        status = str(reservation.status) if reservation else "unknown"
        if len(open_uses) > expected:
            message = (
                f"reservation {reservation_id} ({status}) has {len(open_uses)} unrefunded "
                f"deduction(s), {expected} expected: points taken for nothing"
            )
        else:
            message = f"reservation {reservation_id} is CONFIRMED with no deduction: a free ticket"
        violations.append(
            Violation(
                "no-orphaned-deduction",
                message,
                at=max((u.used_at for u in open_uses), default=None),
                evidence={
                    "reservation_id": reservation_id,
                    "status": status,
                    "unrefunded_uses": [u.use_id for u in open_uses],
                    "all_uses": sorted(uses_of.get(reservation_id, [])),
                    "amount": sum(u.amount for u in open_uses),
                    "user_id": open_uses[0].user_id if open_uses else (reservation.user_id if reservation else None),
                },
                records=_deduction_records(result, reservation_id, [u.use_id for u in open_uses]),
                saga=reservation_id,
            )
        )
    return violations


_ENDINGS = ("ReservationCompletedEvent", "ReservationFailedEvent", "ReservationExpiredEvent", "PointRefundedEvent")


def _deduction_records(result: RunResult, reservation_id: str, use_ids: list[str]) -> tuple[int, ...]:
    """The deductions left standing (their PointUsedEvent) and how the reservation and its refunds
    ended (its completion, failure or expiry, and any refund)."""
    index = trace_index(result)
    used = [index.events("use_id", use_id, "PointUsedEvent") for use_id in use_ids]
    return seqs(*used, index.events("reservation_id", reservation_id, *_ENDINGS))
