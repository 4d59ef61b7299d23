"""Coverage probes: did a run reach the interleavings that matter?

A green exploration that never lost a reply after a deduction, never redelivered an event, never let
a refund overtake its deduction, ... proves little about those situations. Each probe counts, from
the trace alone, how often a run reached one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from concertsim.sim.result import RunResult

__all__ = ["PROBES", "probe_counts"]


def _reply_lost_after_deduction(result: RunResult) -> int:
    """A reply of Point's "use" was lost after the deduction committed (the ambiguous case)."""
    served_ok = {
        r.data["call"] for r in result.trace.of_kind("call.serve")
        if r.data["endpoint"] == "point.use" and r.data["outcome"] == "ok"
    }
    return sum(1 for r in result.trace.of_kind("call.reply_lost") if r.data["call"] in served_ok)


def _redelivery_skipped_by_inbox(result: RunResult) -> int:
    return sum(1 for _ in result.trace.of_kind("consumer.duplicate_skipped"))


def _refund_overtook_deduction(result: RunResult) -> int:
    """Point handled a reservation's ReservationFailedEvent before a deduction for it arrived."""
    reservation_of: dict[str, str] = {}
    refunded_at: dict[str, float] = {}
    count = 0
    for r in result.trace.records:
        if r.kind == "event.raised" and r.data["type"] == "ReservationFailedEvent":
            reservation_of[r.data["event_id"]] = r.data["payload"]["reservation_id"]
        elif r.kind == "consumer.handled" and r.data["group"] == "point":
            reservation = reservation_of.get(r.data["event_id"])
            if reservation is not None:
                refunded_at.setdefault(reservation, r.at)
        elif r.kind == "event.raised" and r.data["type"] == "PointUsedEvent":
            if r.data["payload"]["reservation_id"] in refunded_at:
                count += 1
        elif r.kind == "call.serve" and r.data["outcome"] == "deduction-cancelled":
            count += 1
    return count


def _payment_at_hold_expiry(result: RunResult) -> int:
    """A deduction was made but the hold expired before the confirmation."""
    return sum(
        1 for r in result.trace.of_kind("event.raised")
        if r.data["type"] == "ReservationFailedEvent"
        and r.data["payload"]["reason"] in ("hold-expired", "reservation-closed", "hold-expired-during-payment")
    )


def _relay_republished(result: RunResult) -> int:
    """An outbox event was appended to the broker more than once (a crash between publish and
    mark, or a lost acknowledgement)."""
    appends = Counter(r.data["event_id"] for r in result.trace.of_kind("broker.append"))
    return sum(1 for n in appends.values() if n > 1)


def _parked_in_dead_letter_topic(result: RunResult) -> int:
    return sum(1 for _ in result.trace.of_kind("broker.dead_letter"))


PROBES: dict[str, Callable[[RunResult], int]] = {
    "reply-lost-after-deduction": _reply_lost_after_deduction,
    "redelivery-skipped-by-inbox": _redelivery_skipped_by_inbox,
    "refund-overtook-deduction": _refund_overtook_deduction,
    "payment-at-hold-expiry": _payment_at_hold_expiry,
    "relay-republished": _relay_republished,
    "parked-in-dead-letter-topic": _parked_in_dead_letter_topic,
}


def probe_counts(result: RunResult) -> dict[str, int]:
    return {name: probe(result) for name, probe in PROBES.items()}
