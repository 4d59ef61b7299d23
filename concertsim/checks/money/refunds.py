"""``refunds-visible``: a buyer can learn that their points were given back (seed 4.2.2: "PointRefundedEvent
(refund done, announced to others)").

Point's refunds are only half of the compensation: the buyer asks Reservation about their
reservation, so Reservation must consume the announcement and show the payment REFUNDED.
"""

from __future__ import annotations

from concertsim.checks.applicability import points_refunded
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.models import points, reservations
from concertsim.models.reservations import PaymentStatus, ReservationStatus
from concertsim.sim.run.result import RunResult


@invariant(
    "refunds-visible",
    "convergence",
    "Once the system has settled, the payment of every unconfirmed reservation whose points were "
    "given back shows REFUNDED, and no payment shows REFUNDED without a refund.",
    applies=points_refunded,
)
def refunds_visible(result: RunResult) -> list[Violation]:
    refunded = sorted({u.reservation_id for u in result.table("point", points.USES).values()
                       if u.refunded_at is not None})
    booked = result.table("reservation", reservations.RESERVATIONS)
    payments = result.table("reservation", reservations.PAYMENTS)
    violations = []
    for reservation_id in refunded:
        reservation = booked.get(reservation_id)
        if reservation is None or reservation.status == ReservationStatus.CONFIRMED:
            continue
        payment = payments.get(reservations.payment_id_for(reservation_id))
        shown = None if payment is None else payment.status
        if shown != PaymentStatus.REFUNDED:
            violations.append(
                Violation(
                    "refunds-visible",
                    f"{reservation_id} ({reservation.status}) was refunded, but its payment shows "
                    f"{shown or 'nothing'}: the buyer cannot learn it",
                    evidence={"reservation_id": reservation_id, "payment": str(shown)},
                    records=_refund_records(result, reservation_id),
                    saga=reservation_id,
                )
            )
    for payment in sorted(payments.values(), key=lambda p: p.payment_id):
        if payment.status == PaymentStatus.REFUNDED and payment.reservation_id not in refunded:
            violations.append(
                Violation(
                    "refunds-visible",
                    f"{payment.payment_id} shows REFUNDED, but Point refunded nothing for "
                    f"{payment.reservation_id}",
                    evidence={"payment_id": payment.payment_id},
                    records=_refund_records(result, payment.reservation_id),
                    saga=payment.reservation_id,
                )
            )
    return violations


def _refund_records(result: RunResult, reservation_id: str) -> tuple[int, ...]:
    """The reservation's deductions and refunds (PointUsedEvent, PointRefundedEvent), what
    Reservation did with each refund, and how the reservation ended."""
    index = trace_index(result)
    refunds = index.events("reservation_id", reservation_id, "PointRefundedEvent")
    records = result.trace.lookup(refunds)
    endings = index.events("reservation_id", reservation_id, "PointUsedEvent", "ReservationFailedEvent",
                           "ReservationExpiredEvent")
    return seqs(refunds, endings, *(index.fate(records[seq].data["event_id"], "reservation") for seq in refunds))
