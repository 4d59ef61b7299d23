"""The payment saga orchestrator (``payment_flow=orchestration``): its persisted state machine, the
recovery job that adopts the sagas of a crashed driver, and the compensation it commands."""

from __future__ import annotations

from .defect import ORCHESTRATION, Defect, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="saga-start-not-listed-unfinished",
        path="concertsim/models/orchestration.py",
        before="    store.put(UNFINISHED, saga_id, True)\n    return saga\n\n\ndef advance",
        after="    return saga\n\n\ndef advance",
        flows=ORCHESTRATION,
        why="Listing a saga as unfinished only when it advances, not when it starts, hides a saga "
        "whose driver crashed during its first step from the recovery job, so a payment whose "
        "deduction went through is never confirmed nor refunded (no-orphaned-deduction, "
        "client-outcomes-honoured).",
        scenario="orchestrated-payments",
        witness=(),
    ),
    Defect(
        id="saga-compensated-without-refund-answer",
        path="concertsim/sim/services/orchestrator.py",
        before="            if refunded.ok and (yield from _commit_step(",
        after="            if (yield from _commit_step(",
        flows=ORCHESTRATION,
        why="Moving a compensating saga to COMPENSATED once the refund command is sent, whatever "
        "Point answered (fire-and-forget compensation), ends the saga while the refund was never "
        "made, so the points of a failed payment stay deducted (no-orphaned-deduction).",
        scenario="orchestrated-payments",
        witness=(
            faults(
                "{at: 0, kind: drop, target: reply, duration: 400, match: {message_type: point.use}},"
                " {at: 0, kind: drop, target: request, duration: 600, match: {message_type: point.refund}}"
            ),
        ),
    ),
)
