"""Coverage probes: did a run reach the interleavings that matter?

A green exploration that never lost a reply after a deduction, never redelivered an event, never let
a refund overtake its deduction, ... proves little about those situations. Each probe counts, from
the trace alone, how often a run reached one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from concertsim.sim.run.result import RunResult

__all__ = ["PROBES", "probe_counts"]


def _reply_lost_after_deduction(result: RunResult) -> int:
    """The deduction committed but its reply never reached the caller in time: a reply of Point's
    "use" was lost, or came after the caller had given up on it (the ambiguous case either way:
    the caller cannot tell whether the payment happened)."""
    served_ok = {
        r.data["call"] for r in result.trace.of_kind("call.serve")
        if r.data["endpoint"] == "point.use" and r.data["outcome"] == "ok"
    }
    return sum(1 for r in result.trace.of_kind("call.reply_lost", "call.late_reply") if r.data["call"] in served_ok)


def _redelivery_skipped_by_inbox(result: RunResult) -> int:
    """A consumer received an event it had already processed, and its inbox skipped it."""
    return sum(1 for _ in result.trace.of_kind("consumer.duplicate_skipped"))


def _refund_overtook_deduction(result: RunResult) -> int:
    """Point handled a reservation's ReservationFailedEvent before a deduction for it arrived."""
    reservation_of: dict[str, str] = {}
    refunded_at: dict[str, float] = {}
    count = 0
    for r in result.trace.of_kind("event.raised", "consumer.handled", "call.serve"):
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
    """An event kept failing and was parked in its group's dead-letter topic."""
    return sum(1 for _ in result.trace.of_kind("broker.dead_letter"))


def _crashed(record_kind: str, party: str, host: str, role: str) -> bool:
    """Whether a trace record is a crash of ``host`` or of its ``role`` daemons (relay, consumer)."""
    return (record_kind == "host.crash" and party == host) or (
        record_kind == "daemon.crash" and party == f"{role}:{host}"
    )


def _relay_crash_between_publish_and_mark(result: RunResult) -> int:
    """An event was appended to the broker again because its relay (or its service) crashed after
    publishing it and before marking its outbox row published."""
    first_append: dict[str, tuple[str, float]] = {}
    crashes: list[tuple[float, str, str]] = []
    republished: set[str] = set()
    for r in result.trace.of_kind("host.crash", "daemon.crash", "broker.append"):
        if r.kind in ("host.crash", "daemon.crash"):
            crashes.append((r.at, r.kind, r.party))
        elif r.kind == "broker.append":
            event_id = r.data["event_id"]
            if event_id not in first_append:
                first_append[event_id] = (r.party, r.at)
                continue
            source, at = first_append[event_id]
            if any(at <= when <= r.at and _crashed(kind, party, source, "relay") for when, kind, party in crashes):
                republished.add(event_id)
    return len(republished)


def _redeliveries(result: RunResult, crossed: Callable[[str, str, float, float], bool]) -> int:
    """Events delivered to a group again after being handled there, where ``crossed(host, group,
    handled_at, redelivered_at)`` says what happened in between."""
    handled: dict[tuple[str, str], tuple[str, float]] = {}
    count = 0
    for r in result.trace.of_kind("consumer.handled", "broker.deliver"):
        if r.kind == "consumer.handled":
            handled.setdefault((r.data["group"], r.data["event_id"]), (r.party, r.at))
        elif r.kind == "broker.deliver":
            first = handled.get((r.data["group"], r.data["event_id"]))
            if first is not None and crossed(first[0], r.data["group"], first[1], r.at):
                count += 1
    return count


def _consumer_crash_between_handling_and_commit(result: RunResult) -> int:
    """A consumer handled an event, crashed before committing its offset, and got it again."""
    crashes = [(r.at, r.kind, r.party) for r in result.trace.of_kind("host.crash", "daemon.crash")]
    return _redeliveries(result, lambda host, _group, start, end: any(
        start <= when <= end and _crashed(kind, party, host, "consumer") for when, kind, party in crashes
    ))


def _redelivery_after_lost_offset_commit(result: RunResult) -> int:
    """A consumer's offset commit (with a RabbitMQ-like broker: its acknowledgement) was lost, and an
    event it had handled was delivered again."""
    lost = [(r.at, r.data["group"]) for r in result.trace.of_kind("consumer.commit_lost", "consumer.ack_lost")]
    return _redeliveries(result, lambda _host, group, start, end: any(
        start <= when <= end and lost_group == group for when, lost_group in lost
    ))


def _event_overtaken_across_partitions(result: RunResult) -> int:
    """A group handled two events about the same reservation in the opposite order from the one
    they were raised in, because they travelled in different partitions (no order between them)."""
    raised: dict[str, tuple[int, str]] = {}
    partition_of: dict[str, tuple[str, int]] = {}
    last_handled: dict[tuple[str, str], tuple[int, tuple[str, int]]] = {}
    count = 0
    for r in result.trace.of_kind("event.raised", "broker.append", "consumer.handled"):
        position = r.seq
        if r.kind == "event.raised":
            reservation = r.data["payload"].get("reservation_id")
            if reservation is not None:
                raised[r.data["event_id"]] = (position, reservation)
        elif r.kind == "broker.append":
            partition_of.setdefault(r.data["event_id"], (r.data["topic"], r.data["partition"]))
        elif r.kind == "consumer.handled" and r.data["event_id"] in raised:
            raised_at, reservation = raised[r.data["event_id"]]
            address = (r.data["group"], reservation)
            previous = last_handled.get(address)
            partition = partition_of.get(r.data["event_id"], ("", -1))
            if previous is not None and previous[0] > raised_at and previous[1] != partition:
                count += 1
            if previous is None or raised_at > previous[0]:
                last_handled[address] = (raised_at, partition)
    return count


def _released_seat_resold(result: RunResult) -> int:
    """A seat released by an expired or failed hold was sold to another reservation later (the
    promise of seed 1: a hold not paid in time makes the seat available again)."""
    released: set[tuple[int, int]] = set()
    count = 0
    for r in result.trace.of_kind("event.raised"):
        payload = r.data["payload"]
        if "seat_no" not in payload:
            continue
        seat = (payload["date_id"], payload["seat_no"])
        if r.data["type"] in ("ReservationExpiredEvent", "ReservationFailedEvent"):
            released.add(seat)
        elif r.data["type"] == "ReservationCompletedEvent" and seat in released:
            released.discard(seat)
            count += 1
    return count


def _liveness_judged_beside_a_fault(result: RunResult) -> int:
    """An honest buyer's payment was judged by ``honest-buyer-confirmed`` although a fault was
    active during its purchase (on a party or a message the purchase does not touch): the promise
    is judged under faults, not only in fault-free stretches."""
    from concertsim.checks.clients.liveness import honest_payments

    heal = result.phases.heal_at
    windows = [(w["start"], w["end"] if w.get("end") is not None else heal) for w in result.fault_windows]
    count = 0
    for hold, pay, _reservation in honest_payments(result):
        end = pay.complete_at if pay.complete_at is not None else result.phases.ended_at
        if any(start <= end and stop >= hold.invoke_at for start, stop in windows):
            count += 1
    return count


def _moved_while_copy_lagged(result: RunResult) -> int:
    """A migration moved a user to the new store while changes of the user's account the old
    store had committed were not yet shipped to it."""
    return sum(1 for r in result.trace.of_kind("migration.moved") if r.data["pending"])


def _write_to_old_store_after_cutover(result: RunResult) -> int:
    """The old store committed a write of its own to the moving service's rows (Point's, Queue's or
    Concert's) after a migration's cutover."""
    return sum(1 for r in result.trace.of_kind("migration.write")
               if not r.party.endswith("_new") and r.data["cut_over"])


PROBES: dict[str, Callable[[RunResult], int]] = {
    "reply-lost-after-deduction": _reply_lost_after_deduction,
    "redelivery-skipped-by-inbox": _redelivery_skipped_by_inbox,
    "refund-overtook-deduction": _refund_overtook_deduction,
    "payment-at-hold-expiry": _payment_at_hold_expiry,
    "relay-republished": _relay_republished,
    "parked-in-dead-letter-topic": _parked_in_dead_letter_topic,
    "relay-crash-between-publish-and-mark": _relay_crash_between_publish_and_mark,
    "consumer-crash-between-handling-and-commit": _consumer_crash_between_handling_and_commit,
    "redelivery-after-lost-offset-commit": _redelivery_after_lost_offset_commit,
    "event-overtaken-across-partitions": _event_overtaken_across_partitions,
    "released-seat-resold": _released_seat_resold,
    "liveness-judged-beside-a-fault": _liveness_judged_beside_a_fault,
    "moved-while-copy-lagged": _moved_while_copy_lagged,
    "write-to-old-store-after-cutover": _write_to_old_store_after_cutover,
}


def probe_counts(result: RunResult) -> dict[str, int]:
    return {name: probe(result) for name, probe in PROBES.items()}
