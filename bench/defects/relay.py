"""The outbox relay: poll, publish, await the broker's acknowledgement, mark (seed 6.2)."""

from __future__ import annotations

from .defect import Defect, BOTH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="relay-marks-unacknowledged-rows",
        path="concertsim/sim/messaging/relay.py",
        before="            if not acked:",
        after="            if acked is None:",
        flows=BOTH,
        why="Testing the publish result against None (it is a bool) marks rows published whether "
        "or not the broker acknowledged them, so an event whose publish was lost is never sent "
        "again (no-lost-events).",
        witness=(
            faults("{at: 0, kind: drop, target: publish, match: {message_type: SeatReservedEvent, count: 1}}"),
        ),
    ),
    Defect(
        id="relay-skips-past-failed-publish",
        path="concertsim/sim/messaging/relay.py",
        before="                if not acked:\n                    break",
        after="                if not acked:\n                    continue",
        flows=BOTH,
        why="Going on with the next outbox row after a failed publish publishes an aggregate's "
        "later event before its earlier one, breaking the per-key order the projections rely on "
        "(seat-view-converges).",
        witness=(
            faults("{at: 0, kind: drop, target: publish, duration: 30, match: {source: reservation, rate: 0.5}}"),
        ),
    ),
)
