"""``client-outcomes-honoured``: what users were told matches what happened (Jepsen style).

An acknowledged payment must end confirmed; a failed one must end uncharged (and unconfirmed); an
unknown one must end as exactly one of the two: confirmed with one deduction, or neither.
"""

from __future__ import annotations

from concertsim.checks.applicability import payment_answered
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.checks.money.orphaned_deductions import net_deductions
from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.sim.run.result import RunResult


@invariant(
    "client-outcomes-honoured",
    "convergence",
    "An acknowledged payment is confirmed, a failed one is not charged, an unknown one ends as one "
    "of the two.",
    applies=payment_answered,
)
def client_outcomes_honoured(result: RunResult) -> list[Violation]:
    booked = result.table("reservation", reservations.RESERVATIONS)
    unrefunded = net_deductions(result)
    violations = []
    for op in result.history:
        if op.action != "pay" or op.outcome is None:
            continue
        reservation_id = op.detail["reservation_id"]
        reservation = booked.get(reservation_id)
        confirmed = reservation is not None and reservation.status == ReservationStatus.CONFIRMED
        charged = len(unrefunded.get(reservation_id, []))
        if op.outcome == "ok":
            problem = None if confirmed else f"acknowledged, but the reservation ended {reservation.status if reservation else 'missing'}"
        elif op.outcome == "fail":
            problem = None
            if confirmed:
                problem = "reported failed, but the reservation was confirmed"
            elif charged:
                problem = f"reported failed, but {charged} deduction(s) were never refunded"
        else:
            problem = None if (confirmed and charged == 1) or (not confirmed and charged == 0) else (
                f"unknown, and it ended neither paid nor cleanly failed "
                f"(confirmed={confirmed}, unrefunded deductions={charged})"
            )
        if problem:
            violations.append(
                Violation(
                    "client-outcomes-honoured",
                    f"payment {op.op_id} of user {op.user_id} for {reservation_id}: {problem}",
                    at=op.complete_at,
                    evidence={"op": op.to_json(), "confirmed": confirmed, "unrefunded_deductions": charged},
                    records=_payment_records(result, op.op_id, reservation_id),
                    saga=reservation_id,
                )
            )
    return violations


_PAYMENT_EVENTS = ("PointUsedEvent", "PointRefundedEvent", "ReservationCompletedEvent", "ReservationFailedEvent",
                   "ReservationExpiredEvent")


def _payment_records(result: RunResult, op_id: str, reservation_id: str) -> tuple[int, ...]:
    """The payment's invocation and outcome, and the events that settled what it did: its
    deductions and refunds, and how the reservation ended."""
    index = trace_index(result)
    return seqs(index.client_op(op_id), index.events("reservation_id", reservation_id, *_PAYMENT_EVENTS))
