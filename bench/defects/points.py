"""The point domain: deductions, refunds, tombstones (seed 2, 4.1.1, 4.2.2, 4.2.3)."""

from __future__ import annotations

from .defect import Defect, BOTH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="points-refund-not-saved",
        path="concertsim/models/points.py",
        before="        store.put(USES, use_id, deduction)\n",
        after="",
        flows=BOTH,
        why="Marking the read-for-update copy of a deduction refunded without putting it back "
        "refunds it again on every ReservationFailedEvent and leaves it looking unrefunded "
        "(no-double-refund, no-orphaned-deduction).",
        witness=(
            faults("{at: 0, kind: drop, target: reply, match: {message_type: point.use, count: 2}}"),
        ),
    ),
    Defect(
        id="points-idempotency-key-stored-under-reservation",
        path="concertsim/models/points.py",
        before="        store.put(USES_BY_KEY, idempotency_key, deduction.use_id)",
        after="        store.put(USES_BY_KEY, reservation_id, deduction.use_id)",
        flows=BOTH,
        why="Recording the deduction under the reservation id but looking it up by idempotency key "
        "never finds a repeat, so a retried point.use deducts twice (no-orphaned-deduction).",
        witness=(
            "workload.initial_points=200000",
            faults("{at: 0, kind: drop, target: reply, match: {message_type: point.use, count: 1}}"),
        ),
    ),
    Defect(
        id="points-tombstone-looked-up-by-payment-key",
        path="concertsim/models/points.py",
        before="store.get_for_update(TOMBSTONES, reservation_id)",
        after="store.get_for_update(TOMBSTONES, idempotency_key)",
        flows=BOTH,
        why="Looking the refund tombstone up by the payment's key instead of the reservation id "
        "never finds it, so a deduction that arrives after its reservation was refunded is taken "
        "and never given back (no-orphaned-deduction).",
        witness=(
            faults("{at: 0, kind: delay, target: request, match: {message_type: point.use}, params: {seconds: 30}}"),
        ),
    ),
    Defect(
        id="points-exact-balance-refused",
        path="concertsim/models/points.py",
        before="    if account.balance < amount:",
        after="    if account.balance <= amount:",
        flows=BOTH,
        why="An off-by-one in the balance check refuses a payment that would leave exactly zero "
        "points, so every buyer who tops up exactly the price is refused (honest-buyer-confirmed).",
        witness=(),
    ),
)
