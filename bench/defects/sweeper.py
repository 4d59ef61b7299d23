"""The hold sweeper: expiring holds and compensating their payments (seed 3.2, 4.1)."""

from __future__ import annotations

from .defect import Defect, BOTH, SYNC, RICH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="sweeper-compensates-failed-not-pending",
        path="concertsim/models/reservations.py",
        before="    if payment is not None and payment.status == PaymentStatus.PENDING:",
        after="    if payment is not None and payment.status == PaymentStatus.FAILED:",
        flows=BOTH,
        why="Asking for a refund when an expiring hold's payment is FAILED instead of PENDING "
        "leaves the points of a payment stuck half-way (Reservation failed between the deduction "
        "and the confirmation) deducted for good (no-orphaned-deduction).",
        witness=(
            faults("{at: 5, kind: commit_failure, target: reservation, duration: 10, params: {rate: 0.5}}"),
        ),
    ),
    Defect(
        id="sweeper-sorts-holds-by-id-text",
        path="concertsim/models/reservations.py",
        before=(
            "    for _, reservation_id in sorted((store.get(OPEN_HOLDS, rid), rid) for rid in "
            "store.keys(OPEN_HOLDS)):"
        ),
        after="    for reservation_id in sorted(store.keys(OPEN_HOLDS)):",
        flows=BOTH,
        why="Walking open holds in the text order of their ids ('res-10' before 'res-9') while "
        "stopping at the first one not yet due keeps expired holds, and their seats, from being "
        "released until every hold sorted before them has expired too (seats stay unavailable "
        "to buyers for up to another TTL).",
        witness=(
            "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
            "workload.abandon_probability=0.5",
        ),
    ),
    Defect(
        id="expiry-skips-declined-payment",
        path="concertsim/models/reservations.py",
        before="    elif payment is not None and payment.status == PaymentStatus.DECLINED:",
        after=(
            "    elif payment is not None and payment.status == PaymentStatus.DECLINED "
            "and payment.requests_out > 0:"
        ),
        flows=SYNC,
        why="Compensating an expiring hold's declined payment only while a request of it is counted "
        "out trusts that Point's answers covered every request, but a network duplicate or a mesh "
        "retry of point.use that Reservation never counted can deduct after the decline, and "
        "nothing gives those points back (no-orphaned-deduction).",
        witness=(
            *RICH, "workload.users=1",
            faults(
                "{at: 0, kind: commit_failure, target: point, duration: 30},"
                " {at: 0, kind: duplicate, target: request, match: {message_type: point.use}, params: {gap: 10}}"
            ),
        ),
    ),
)
