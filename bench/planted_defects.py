"""Planted defects: does the verifier catch the bugs a team actually ships?

A catalogue of realistic one-line defects in the runtime (``concertsim/sim/``) and the domain
(``concertsim/models/``), each planted in a temporary copy of the package (never in the checkout),
and a runner that asks the project's two bug finders whether they notice:

- the CI property suite, ``tests/properties/test_design_converges.py``, run against the planted
  copy: caught when it fails (exit code 1);
- ``concertsim explore`` on each payment flow the defect affects: caught when it finds a
  counterexample (exit code 1), after ``examples_to_failure`` generated examples.

Before either, each defect's *witness* (a small scenario, see :data:`WITNESSES`) is run in a clean
copy and in the planted copy: a defect whose witness differs in neither the trace nor the verdicts
has not been shown to change behaviour, and its row says NO CHANGE.

    python bench/planted_defects.py [--only ID ...] [--examples N] [--seed S] [--json FILE]
                                    [--revision REV] [--no-baseline]

By default the working tree's package is copied and the working tree's tests are run against it;
with ``--revision HEAD`` (or any git revision) the package, tests and ``pyproject.toml`` of that
commit are exported instead, so a measurement does not depend on uncommitted work in progress. A
first row measures the clean copy: the verifier must be green there for a catch to mean anything.

The planted copy is put first on ``PYTHONPATH`` of each subprocess, with ``PYTHONSAFEPATH=1``:
without it, ``python -m`` and ``python -c`` put the working directory first on ``sys.path`` and
import the checkout's package instead of the planted one. Each subprocess also checks that the
``concertsim`` it imported is the planted copy's and refuses to run otherwise. Runs are sequential:
one simulation process at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Defect",
    "DEFECTS",
    "WITNESSES",
    "FLOWS",
    "PLANTABLE_ROOTS",
    "REPO",
    "DefectResult",
    "WitnessResult",
    "SuiteResult",
    "ExploreResult",
    "table",
    "planted",
    "planted_copy",
    "pristine_copy",
    "subprocess_env",
    "run_witness",
    "run_property_suite",
    "run_explore",
    "evaluate",
    "main",
]

REPO = Path(__file__).resolve().parent.parent
"""The repository root: the checkout whose package is copied and whose tests are run."""

PACKAGE = "concertsim"
PLANTABLE_ROOTS = ("concertsim/sim/", "concertsim/models/")
"""Where defects may be planted: the runtime and the domain, never the checks that judge them."""

FLOWS = ("sync", "choreography")
PROPERTY_SUITE = "tests/properties/test_design_converges.py"
WITNESS_BASE = "small-opening"

_ROOT_VARIABLE = "CONCERTSIM_PLANTED_ROOT"
_GUARD_MODULE = "concertsim_planted_guard"
_GUARD_SOURCE = f'''"""pytest plugin: refuse to run unless concertsim is imported from the planted copy."""
import os

import pytest


def pytest_configure(config):
    import concertsim

    root = os.environ["{_ROOT_VARIABLE}"]
    if not os.path.realpath(concertsim.__file__).startswith(os.path.realpath(root) + os.sep):
        raise pytest.UsageError(f"concertsim was imported from {{concertsim.__file__}}, not from {{root}}")
'''
_IMPORT_GUARD = (
    "import os, sys, concertsim\n"
    f"_root = os.path.realpath(os.environ['{_ROOT_VARIABLE}']) + os.sep\n"
    "if not os.path.realpath(concertsim.__file__).startswith(_root):\n"
    "    sys.exit(f'concertsim was imported from {concertsim.__file__}, not from {_root}')\n"
)
_CLI = _IMPORT_GUARD + "from concertsim.cli import main\nmain()\n"
_WITNESS = _IMPORT_GUARD + (
    "import json\n"
    "from collections import Counter\n"
    "outcome = concertsim.run(sys.argv[1], overrides=json.loads(sys.argv[2]))\n"
    "booked = outcome.result.table('reservation', 'reservations').values()\n"
    "paid = Counter(op.outcome for op in outcome.result.history if op.action == 'pay')\n"
    "lags = [r.ended_at - r.hold_expires_at for r in booked if str(r.status) == 'EXPIRED']\n"
    "print(json.dumps({\n"
    "    'module': concertsim.__file__, 'trace_sha256': outcome.result.trace_sha256,\n"
    "    'violated': outcome.violated,\n"
    "    'observed': {\n"
    "        'sold': sum(str(r.status) == 'CONFIRMED' for r in booked),\n"
    "        'payments ok': paid['ok'], 'payments failed': paid['fail'],\n"
    "        'payments unknown': paid['unknown'],\n"
    "        'hold release lag (s)': round(max(lags, default=0.0), 1),\n"
    "        'dead letters': len(outcome.result.dead_letters),\n"
    "    },\n"
    "}))\n"
)
"""Runs a witness; prints the verdicts and what a buyer or an operator would see: seats sold, how
payments were answered, the longest delay between a hold's expiry and its release, dead letters."""


@dataclass(frozen=True)
class Defect:
    """One realistic defect: replace ``before`` (an exact snippet occurring exactly once in
    ``path``, relative to the repository) by ``after``. ``flows`` are the payment flows whose
    behaviour it changes; ``why`` says in one sentence what a team would have got wrong and which
    promise it breaks."""

    id: str
    path: str
    before: str
    after: str
    flows: tuple[str, ...]
    why: str


BOTH = FLOWS
SYNC = ("sync",)

DEFECTS: tuple[Defect, ...] = (
    # --- consumers: handle, record in the inbox, commit the offset (seed 4.2.3) -------------------
    Defect(
        id="consumer-commits-before-handling",
        path="concertsim/sim/messaging/consumer.py",
        before=(
            "            yield from handle_with_retries(\n"
            "                host, broker, group, topic, partition, message_offset, event, work, policy\n"
            "            )"
        ),
        after=(
            "            host.spawn(handle_with_retries(\n"
            "                host, broker, group, topic, partition, message_offset, event, work, policy\n"
            "            ))"
        ),
        flows=BOTH,
        why="Handing each event to a background worker so the poll loop keeps up commits the "
        "batch's offset before its events are handled and lets one key's events race, so a "
        "consumer crash loses events and projections apply them out of order (no-lost-events, "
        "seat-view-converges).",
    ),
    Defect(
        id="consumer-inbox-only-when-events-raised",
        path="concertsim/sim/messaging/consumer.py",
        before="        if dedup:\n            tx.mark_processed(group, event.event_id)",
        after="        if dedup and raised:\n            tx.mark_processed(group, event.event_id)",
        flows=BOTH,
        why="Recording an event as processed only when handling raised follow-up events leaves "
        "the pure projections (Concert, Data Platform, Queue) without de-duplication, so a "
        "redelivered ReservationCompletedEvent is counted twice (data-platform-exactly-once, "
        "ranking-converges).",
    ),
    Defect(
        id="consumer-commits-past-lost-delivery",
        path="concertsim/sim/messaging/consumer.py",
        before="            batch = batch[:delivered]\n",
        after="",
        flows=BOTH,
        why="Committing the whole fetched batch after one of its deliveries was lost in transit "
        "skips that event for good instead of fetching it again (no-lost-events).",
    ),
    Defect(
        id="consumer-parked-key-checked-by-event-id",
        path="concertsim/sim/messaging/consumer.py",
        before="broker.is_key_parked(group, event.key)",
        after="broker.is_key_parked(group, event.event_id)",
        flows=BOTH,
        why="Asking whether the event's id, not its aggregate key, is parked lets a younger event "
        "of a seat overtake an older one waiting in the dead-letter topic, so the redriven older "
        "event is applied last (seat-view-converges).",
    ),
    # --- the outbox relay: poll, publish, await the ack, mark (seed 6.2) ---------------------------
    Defect(
        id="relay-marks-unacknowledged-rows",
        path="concertsim/sim/messaging/relay.py",
        before="            if not acked:",
        after="            if acked is None:",
        flows=BOTH,
        why="Testing the publish result against None (it is a bool) marks rows published whether "
        "or not the broker acknowledged them, so an event whose publish was lost is never sent "
        "again (no-lost-events).",
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
    ),
    # --- the broker: partition by key (seed 4.2.3) -------------------------------------------------
    Defect(
        id="broker-partitions-by-event-id",
        path="concertsim/sim/messaging/kafka.py",
        before="zlib.crc32(event.key.encode()) % self.partitions",
        after="zlib.crc32(event.event_id.encode()) % self.partitions",
        flows=BOTH,
        why="Hashing the event id instead of the aggregate key spreads one seat's events over "
        "partitions, so a delayed SeatReservedEvent can land after its ReservationCompletedEvent "
        "(seat-view-converges).",
    ),
    Defect(
        id="broker-partition-modulo-off-by-one",
        path="concertsim/sim/messaging/kafka.py",
        before="zlib.crc32(event.key.encode()) % self.partitions",
        after="zlib.crc32(event.key.encode()) % (self.partitions + 1)",
        flows=BOTH,
        why="Hashing over one partition more than the topic's consumers read (a count taken for a "
        "highest index) appends some keys' events to a partition no consumer group reads "
        "(no-lost-events).",
    ),
    # --- storage: local transactions (seed 6.2, 8) -------------------------------------------------
    Defect(
        id="storage-read-for-update-shares-committed-row",
        path="concertsim/sim/infrastructure/storage.py",
        before="        return copy_row(row) if row is not None else None",
        after="        return row",
        flows=BOTH,
        why="Dropping the copy in get_for_update (to save an allocation) lets a transaction mutate "
        "committed rows in place, so a failed, conflicting or crashed transaction keeps its "
        "uncommitted writes (points-ledger-balanced, ranking-converges).",
    ),
    Defect(
        id="storage-conflict-check-only-backwards",
        path="concertsim/sim/infrastructure/storage.py",
        before="            if self.versions.get(address, 0) != version:",
        after="            if self.versions.get(address, 0) < version:",
        flows=BOTH,
        why="Treating only a version that went backwards as a conflict never detects a concurrent "
        "update, so two transactions on one seat or one tally both commit (no-double-booking, "
        "ranking-converges).",
    ),
    Defect(
        id="storage-inbox-written-outside-transaction",
        path="concertsim/sim/infrastructure/storage.py",
        before="        self.put(INBOX, (group, event_id), True)",
        after="        self.db.tables.setdefault(INBOX, {})[(group, event_id)] = True",
        flows=BOTH,
        why="Writing the processed-event id straight to the table instead of through the "
        "transaction marks an event handled even when the handling's commit fails or conflicts, "
        "so its retry is skipped as a duplicate and its effect is lost (seat-view-converges, "
        "ranking-converges).",
    ),
    Defect(
        id="storage-outbox-scan-stops-one-short",
        path="concertsim/sim/infrastructure/storage.py",
        before="        while seq < self.next_outbox_seq and len(rows) < limit:",
        after="        while seq < self.next_outbox_seq - 1 and len(rows) < limit:",
        flows=BOTH,
        why="Reading next_outbox_seq as the last sequence number rather than the next one leaves "
        "the newest outbox row unpublished until another commit follows it, and the last one "
        "forever (no-lost-events).",
    ),
    # --- the gateway and the network's timeouts ----------------------------------------------------
    Defect(
        id="gateway-timeout-reported-as-unavailable",
        path="concertsim/sim/hosting/gateway.py",
        before='return Failed("gateway-timeout", f"{route.service} did not answer", transient=True)',
        after='return Failed("unavailable", f"{route.service} did not answer", transient=True)',
        flows=BOTH,
        why="Answering 503 instead of 504 when a service did not answer in time tells the client "
        "its payment definitely failed when it may have gone through (client-outcomes-honoured).",
    ),
    Defect(
        id="host-call-ignores-timeout-override",
        path="concertsim/sim/hosting/host.py",
        before="timeout=timeout or spec.call_timeout,",
        after="timeout=spec.call_timeout or timeout,",
        flows=BOTH,
        why="Swapping the operands makes the gateway wait only the 0.5 s service-to-service "
        "timeout instead of its own 3 s, so a hold or payment slower than that is answered "
        "'unknown' although it went through (buyers lose seats they were given; no sale).",
    ),
    # --- the reservation service (seed 3.1, 4.2.1, 4.2.2) -----------------------------------------
    Defect(
        id="reservation-confirms-when-point-did-not-answer",
        path="concertsim/sim/services/reservation.py",
        before="    if used.ok:",
        after="    if not isinstance(used, Failed):",
        flows=SYNC,
        why="Treating a timed-out point.use as success confirms reservations whose deduction "
        "never happened: free tickets (no-orphaned-deduction).",
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
    ),
    # --- the domain: points (seed 2, 4.1.1, 4.2.2, 4.2.3) ------------------------------------------
    Defect(
        id="points-refund-not-saved",
        path="concertsim/models/points.py",
        before="        store.put(USES, use_id, deduction)\n",
        after="",
        flows=BOTH,
        why="Marking the read-for-update copy of a deduction refunded without putting it back "
        "refunds it again on every ReservationFailedEvent and leaves it looking unrefunded "
        "(no-double-refund, no-orphaned-deduction).",
    ),
    Defect(
        id="points-idempotency-key-stored-under-reservation",
        path="concertsim/models/points.py",
        before="        store.put(USES_BY_KEY, idempotency_key, deduction.use_id)",
        after="        store.put(USES_BY_KEY, reservation_id, deduction.use_id)",
        flows=BOTH,
        why="Recording the deduction under the reservation id but looking it up by idempotency key "
        "never finds a repeat, so a retried point.use deducts twice (no-orphaned-deduction).",
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
    ),
    Defect(
        id="points-exact-balance-refused",
        path="concertsim/models/points.py",
        before="    if account.balance < amount:",
        after="    if account.balance <= amount:",
        flows=BOTH,
        why="An off-by-one in the balance check refuses a payment that would leave exactly zero "
        "points, so every buyer who tops up exactly the price is refused (honest-buyer-confirmed).",
    ),
    # --- the domain: reservations and the sweeper (seed 3.2, 4.1) ---------------------------------
    Defect(
        id="reservations-hold-only-refuses-sold-seats",
        path="concertsim/models/reservations.py",
        before="    if seat.status != SeatStatus.AVAILABLE:",
        after="    if seat.status == SeatStatus.SOLD:",
        flows=BOTH,
        why="Refusing only sold seats lets a second buyer hold a seat someone else holds, which "
        "the lagging seat view cannot prevent (no-double-booking).",
    ),
    Defect(
        id="sweeper-compensates-failed-not-pending",
        path="concertsim/models/reservations.py",
        before="        if payment is not None and payment.status == PaymentStatus.PENDING:",
        after="        if payment is not None and payment.status == PaymentStatus.FAILED:",
        flows=BOTH,
        why="Asking for a refund when an expiring hold's payment is FAILED instead of PENDING "
        "leaves the points of a payment stuck half-way (Reservation failed between the deduction "
        "and the confirmation) deducted for good (no-orphaned-deduction).",
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
    ),
    # --- the domain: queue and the read side (seed 2, 3.2) -----------------------------------------
    Defect(
        id="queue-activates-one-over-capacity",
        path="concertsim/models/queue.py",
        before="    while state.active_count < capacity and state.head_seq < state.next_seq:",
        after="    while state.active_count <= capacity and state.head_seq < state.next_seq:",
        flows=BOTH,
        why="An off-by-one in the activation loop admits one more buyer than the waiting room's "
        "capacity (queue-capacity).",
    ),
    Defect(
        id="concert-release-frees-any-held-seat",
        path="concertsim/models/concert.py",
        before="    elif seat.reservation_id == payload.reservation_id:",
        after="    elif seat.status == SeatStatus.HELD:",
        flows=BOTH,
        why="Freeing any held seat on a release, instead of only the releasing reservation's, lets "
        "a stale ReservationFailedEvent free another buyer's hold in the seat view, which offers "
        "that seat to others until the hold ends (seat-view-converges while it lasts).",
    ),
    Defect(
        id="concert-sold-out-at-last-arrival",
        path="concertsim/models/concert.py",
        before=(
            "    tally.last_sale_at = max(tally.last_sale_at or payload.confirmed_at, "
            "payload.confirmed_at)"
        ),
        after="    tally.last_sale_at = payload.confirmed_at",
        flows=BOTH,
        why="Taking the last sale to arrive as the last sale made dates a sell-out time that "
        "depends on delivery order across partitions (ranking-converges).",
    ),
    Defect(
        id="concert-ranking-ordered-by-date",
        path="concertsim/models/concert.py",
        before=(
            "        ((t.date_id, t.sold_out_at - t.opens_at) for t in tallies if t.sold_out_at is not None),\n"
            "        key=lambda entry: (entry[1], entry[0]),"
        ),
        after=(
            "        ((t.date_id, t.sold_out_at - t.opens_at) for t in tallies if t.sold_out_at is not None),\n"
            "        key=lambda entry: (entry[0], entry[1]),"
        ),
        flows=BOTH,
        why="Sorting the fast-sell-out ranking by date id instead of by time to sell out shows the "
        "wrong date first whenever a later date sold out faster (ranking-converges).",
    ),
    Defect(
        id="expiry-skips-declined-payment",
        path="concertsim/models/reservations.py",
        before="        elif payment is not None and payment.status == PaymentStatus.DECLINED:",
        after=(
            "        elif payment is not None and payment.status == PaymentStatus.DECLINED "
            "and payment.requests_out > 0:"
        ),
        flows=SYNC,
        why="Compensating an expiring hold's declined payment only while a request of it is counted "
        "out trusts that Point's answers covered every request, but a network duplicate or a mesh "
        "retry of point.use that Reservation never counted can deduct after the decline, and "
        "nothing gives those points back (no-orphaned-deduction).",
    ),
)


_RICH = ("workload.initial_points=200000", "workload.abandon_probability=0")
"""Buyers who can pay and do: every seat is fought over and paid for."""
_CHOREOGRAPHY = "design.payment_flow=choreography"


def _faults(*specs: str) -> str:
    return f"faults=[{', '.join(specs)}]"


WITNESSES: dict[str, tuple[str, ...]] = {
    "consumer-commits-before-handling": (
        *_RICH, _faults("{at: 3.5944, kind: crash, target: data_platform}"),
    ),
    "consumer-inbox-only-when-events-raised": (
        _faults("{at: 0, kind: duplicate, target: publish, match: {message_type: ReservationCompletedEvent}}"),
    ),
    "consumer-commits-past-lost-delivery": (
        _faults("{at: 0, kind: drop, target: delivery, match: {message_type: ReservationCompletedEvent, count: 1}}"),
    ),
    "consumer-parked-key-checked-by-event-id": (
        _faults("{at: 2, kind: commit_failure, target: concert, duration: 5}"),
    ),
    "relay-marks-unacknowledged-rows": (
        _faults("{at: 0, kind: drop, target: publish, match: {message_type: SeatReservedEvent, count: 1}}"),
    ),
    "relay-skips-past-failed-publish": (
        _faults("{at: 0, kind: drop, target: publish, duration: 30, match: {source: reservation, rate: 0.5}}"),
    ),
    "broker-partitions-by-event-id": (
        _faults(
            "{at: 0, kind: delay, target: delivery, params: {seconds: 30},"
            " match: {message_type: SeatReservedEvent, group: concert, count: 1}}"
        ),
    ),
    "broker-partition-modulo-off-by-one": (),
    "storage-read-for-update-shares-committed-row": (
        _faults("{at: 5, kind: commit_failure, target: point, duration: 10, params: {rate: 0.5}}"),
    ),
    "storage-conflict-check-only-backwards": (
        "seed=1002", "workload.users=20", "workload.flash_window=2", "workload.abandon_probability=0",
        "workload.initial_points=50000",
    ),
    "storage-inbox-written-outside-transaction": (
        _faults("{at: 2, kind: commit_failure, target: concert, duration: 10, params: {rate: 0.5}}"),
    ),
    "storage-outbox-scan-stops-one-short": (),
    "gateway-timeout-reported-as-unavailable": (
        _faults("{at: 0, kind: drop, target: reply, match: {message_type: reservation.pay, count: 3}}"),
    ),
    "host-call-ignores-timeout-override": (
        _faults("{at: 0, kind: delay, target: request, match: {message_type: reservation.hold}, params: {seconds: 0.5}}"),
    ),
    "reservation-confirms-when-point-did-not-answer": (
        _faults("{at: 0, kind: drop, target: request, match: {message_type: point.use, count: 2}}"),
    ),
    "reservation-new-idempotency-key-per-request": (
        *_RICH, _faults("{at: 9.6, kind: crash, target: reservation}"),
    ),
    "reservation-confirm-misses-swept-hold": (
        _CHOREOGRAPHY, "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
        _faults("{at: 0, kind: delay, target: delivery, match: {message_type: PointUsedEvent}, params: {seconds: 30}}"),
    ),
    "points-refund-not-saved": (
        _faults("{at: 0, kind: drop, target: reply, match: {message_type: point.use, count: 2}}"),
    ),
    "points-idempotency-key-stored-under-reservation": (
        "workload.initial_points=200000",
        _faults("{at: 0, kind: drop, target: reply, match: {message_type: point.use, count: 1}}"),
    ),
    "points-tombstone-looked-up-by-payment-key": (
        _faults("{at: 0, kind: delay, target: request, match: {message_type: point.use}, params: {seconds: 30}}"),
    ),
    "points-exact-balance-refused": (),
    "reservations-hold-only-refuses-sold-seats": ("seed=15",),
    "sweeper-compensates-failed-not-pending": (
        _faults("{at: 5, kind: commit_failure, target: reservation, duration: 10, params: {rate: 0.5}}"),
    ),
    "sweeper-sorts-holds-by-id-text": (
        "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
        "workload.abandon_probability=0.5",
    ),
    "queue-activates-one-over-capacity": ("workload.users=30",),
    "concert-release-frees-any-held-seat": (
        _CHOREOGRAPHY, "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
        _faults("{at: 0, kind: delay, target: delivery, match: {message_type: PointUsedEvent}, params: {seconds: 30}}"),
    ),
    "concert-sold-out-at-last-arrival": (
        *_RICH, "workload.users=30",
        _faults(
            "{at: 0, kind: delay, target: delivery, params: {seconds: 30},"
            " match: {message_type: ReservationCompletedEvent, group: concert, count: 1}}"
        ),
    ),
    "concert-ranking-ordered-by-date": (*_RICH, "workload.users=30", "seed=3"),
    "expiry-skips-declined-payment": (
        *_RICH, "workload.users=1",
        _faults(
            "{at: 0, kind: commit_failure, target: point, duration: 30},"
            " {at: 0, kind: duplicate, target: request, match: {message_type: point.use}, params: {gap: 10}}"
        ),
    ),
}
"""Defect id -> ``--set`` overrides of the ``small-opening`` scenario (no faults, sync flow, unless
overridden) under which the planted copy behaves differently from a clean copy: a different trace,
or different verdicts (for state the trace does not show, such as the ranking). Evidence that the
defect changes behaviour, not a claim about whether the verifier finds it."""


# --- planting ------------------------------------------------------------------------------------


def planted(defect: Defect, source: str) -> str:
    """``source`` with ``defect`` applied. Raises ValueError unless ``before`` occurs exactly once
    and ``after`` differs from it."""
    count = source.count(defect.before)
    if count != 1:
        raise ValueError(f"{defect.id}: the snippet occurs {count} times in {defect.path}, not once")
    if defect.after == defect.before:
        raise ValueError(f"{defect.id}: before and after are the same")
    return source.replace(defect.before, defect.after)


def _copy_package(root: Path, revision: str | None) -> None:
    """Fill ``root`` with the working tree's package, or with the package, the tests and
    ``pyproject.toml`` of git ``revision``; add the import guard."""
    if revision is None:
        shutil.copytree(
            REPO / PACKAGE, root / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    else:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, PACKAGE, "tests", "pyproject.toml"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(root, filter="data")
    (root / f"{_GUARD_MODULE}.py").write_text(_GUARD_SOURCE)


@contextlib.contextmanager
def pristine_copy(revision: str | None = None) -> Iterator[Path]:
    """A temporary directory holding an unmodified copy of the package (the baseline planted
    copies are compared with): the working tree's, or git ``revision``'s with its tests. Removed
    on exit."""
    with tempfile.TemporaryDirectory(prefix="concertsim-pristine-") as temporary:
        root = Path(temporary)
        _copy_package(root, revision)
        yield root


@contextlib.contextmanager
def planted_copy(defect: Defect, revision: str | None = None) -> Iterator[Path]:
    """A temporary directory holding a copy of the package with ``defect`` applied: the working
    tree's package, or git ``revision``'s package and tests. Put it first on ``PYTHONPATH`` of a
    subprocess (see :func:`subprocess_env`) to run the planted package. The checkout is only
    read. Raises ValueError if the defect's snippet is not in the copy exactly once. Removed on
    exit."""
    with tempfile.TemporaryDirectory(prefix=f"concertsim-planted-{defect.id}-") as temporary:
        root = Path(temporary)
        _copy_package(root, revision)
        target = root / defect.path
        target.write_text(planted(defect, target.read_text()))
        yield root


def _tests_root(root: Path) -> Path:
    """Where to run the property suite for a copy: the copy itself when it holds a revision's
    tests, else the repository root (the working tree's tests and conftest)."""
    return root if (root / "tests").is_dir() else REPO


def subprocess_env(root: Path) -> dict[str, str]:
    """The environment that makes a subprocess import ``concertsim`` from ``root``: ``root``
    first on ``PYTHONPATH``, ``PYTHONSAFEPATH`` so the working directory (the checkout, when run
    from the repository root) is not put before it, no byte-code written into the copy, and the
    CI Hypothesis profile."""
    env = dict(os.environ)
    inherited = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([str(root), *([inherited] if inherited else [])])
    env["PYTHONSAFEPATH"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HYPOTHESIS_PROFILE"] = "ci"
    env[_ROOT_VARIABLE] = str(root)
    return env


# --- the three measurements ----------------------------------------------------------------------


def run_witness(root: Path, overrides: Sequence[str], base: str = WITNESS_BASE) -> dict[str, Any]:
    """Run ``base`` with ``overrides`` using the package in ``root``; returns the module file it
    imported (``module``), the trace SHA-256, the violated invariants and what a buyer or an
    operator would see (``observed``). Raises RuntimeError if the run fails."""
    completed = subprocess.run(
        [sys.executable, "-c", _WITNESS, base, json.dumps(list(overrides))],
        cwd=root, env=subprocess_env(root), capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"witness run failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


@dataclass
class SuiteResult:
    """The property suite against one copy: ``caught`` means it failed (exit code 1)."""

    exit_code: int
    caught: bool
    seconds: float
    first_failure: str | None


def run_property_suite(root: Path) -> SuiteResult:
    """Run the CI property suite from the repository root against the package in ``root``."""
    started = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", _GUARD_MODULE,
         PROPERTY_SUITE],
        cwd=_tests_root(root), env=subprocess_env(root), capture_output=True, text=True, check=False,
    )
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"property suite could not run ({completed.returncode}): "
            f"{(completed.stdout + completed.stderr).strip()[-2000:]}"
        )
    output = completed.stdout + completed.stderr
    violated = next(
        (line.split("violated: ", 1)[1].strip() for line in output.splitlines() if "violated: [" in line), None
    )
    caught = completed.returncode == 1 and "failed" in output.lower()
    return SuiteResult(completed.returncode, caught, round(seconds, 1), violated)


@dataclass
class ExploreResult:
    """``concertsim explore`` on one flow: ``caught`` means it found a counterexample."""

    flow: str
    exit_code: int
    caught: bool
    examples_to_failure: int | None
    examples_generated: int | None
    violated: list[str]
    seconds: float


def run_explore(root: Path, flow: str, examples: int, seed: int) -> ExploreResult:
    """Run ``concertsim explore --set design.payment_flow=FLOW -n EXAMPLES --seed SEED --json``
    with the package in ``root``."""
    with tempfile.TemporaryDirectory(prefix="concertsim-explore-") as out:
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", _CLI, "explore", "--set", f"design.payment_flow={flow}",
             "-n", str(examples), "--seed", str(seed), "--json", "--out", str(Path(out) / "result")],
            cwd=root, env=subprocess_env(root), capture_output=True, text=True, check=False,
        )
        seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(
            f"explore could not run ({completed.returncode}): {completed.stderr.strip()[-2000:]}"
        )
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    return ExploreResult(
        flow, completed.returncode, completed.returncode == 1, summary.get("examples_to_failure"),
        summary.get("examples_generated"), list(summary.get("violated") or []), round(seconds, 1),
    )


@dataclass
class WitnessResult:
    """A defect's witness scenario in a clean copy and in the planted copy. ``changes`` is True
    when the trace or the verdicts differ."""

    trace_differs: bool
    clean_violated: list[str]
    violated: list[str]
    clean_observed: dict[str, float]
    observed: dict[str, float]

    @property
    def changes(self) -> bool:
        return self.trace_differs or self.violated != self.clean_violated


@dataclass
class DefectResult:
    """Everything measured for one defect (or, with ``defect`` None, for the clean copy)."""

    id: str
    path: str
    flows: tuple[str, ...]
    witness: WitnessResult | None = None
    suite: SuiteResult | None = None
    explore: list[ExploreResult] = field(default_factory=list)

    @property
    def caught_by_suite(self) -> bool:
        return self.suite is not None and self.suite.caught

    @property
    def caught_by_explore(self) -> bool:
        return any(e.caught for e in self.explore)

    @property
    def escapes(self) -> bool:
        return not (self.caught_by_suite or self.caught_by_explore)


def evaluate(
    defect: Defect | None,
    examples: int,
    seed: int,
    baselines: dict[tuple[str, ...], dict[str, Any]],
    revision: str | None = None,
) -> DefectResult:
    """Measure one defect (None: the clean copy, every flow) in a copy of the working tree or of
    git ``revision``: its witness against the clean baseline (computed once per witness in
    ``baselines``), the property suite, and explore on each flow it affects."""
    if defect is None:
        result = DefectResult("(none)", "-", FLOWS)
        context = pristine_copy(revision)
    else:
        result = DefectResult(defect.id, defect.path, defect.flows)
        context = planted_copy(defect, revision)
    with context as root:
        overrides = WITNESSES.get(result.id)
        if defect is not None and overrides is not None:
            if overrides not in baselines:
                with pristine_copy(revision) as clean:
                    baselines[overrides] = run_witness(clean, overrides)
            clean, seen = baselines[overrides], run_witness(root, overrides)
            result.witness = WitnessResult(
                seen["trace_sha256"] != clean["trace_sha256"], clean["violated"], seen["violated"],
                clean["observed"], seen["observed"],
            )
        result.suite = run_property_suite(root)
        result.explore = [run_explore(root, flow, examples, seed) for flow in result.flows]
    return result


# --- the report ----------------------------------------------------------------------------------


def _suite_cell(result: DefectResult) -> str:
    assert result.suite is not None
    return f"{'y' if result.suite.caught else 'n'} ({result.suite.seconds:.0f} s)"


def _explore_cell(result: DefectResult, flow: str) -> str:
    found = next((e for e in result.explore if e.flow == flow), None)
    if found is None:
        return "–"
    return f"y ({found.examples_to_failure})" if found.caught else "n"


def _witness_cell(result: DefectResult) -> str:
    witness = result.witness
    if witness is None:
        return "–"
    if not witness.changes:
        return "NO CHANGE"
    if witness.violated != witness.clean_violated:
        return ", ".join(witness.violated) or "holds"
    changed = [
        f"{name} {witness.clean_observed[name]:g} → {value:g}"
        for name, value in witness.observed.items() if value != witness.clean_observed.get(name)
    ]
    return "holds; " + (", ".join(changed) if changed else "the trace differs")


def table(results: Sequence[DefectResult]) -> str:
    """The results as a Markdown table, then the catch rates."""
    lines = [
        "| defect | file | flows | witness run | property suite | explore sync | explore choreography |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        path = r.path.removeprefix("concertsim/")
        lines.append(
            f"| `{r.id}` | {path} | {', '.join(r.flows)} | {_witness_cell(r)} | {_suite_cell(r)} | "
            f"{_explore_cell(r, 'sync')} | {_explore_cell(r, 'choreography')} |"
        )
    planted_results = [r for r in results if r.id != "(none)"]
    n = len(planted_results)
    if n:
        by_suite = sum(r.caught_by_suite for r in planted_results)
        by_explore = sum(r.caught_by_explore for r in planted_results)
        either = sum(not r.escapes for r in planted_results)
        lines.append("")
        lines.append(
            f"caught: property suite {by_suite}/{n}, explore {by_explore}/{n}, "
            f"either {either}/{n} ({100 * either / n:.0f}%)"
        )
        escapes = [r.id for r in planted_results if r.escapes]
        lines.append(f"escapes: {', '.join(escapes) if escapes else 'none'}")
    return "\n".join(lines)


def _git_head() -> str | None:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _working_tree_changes() -> list[str]:
    """``git status --porcelain`` of the package and tests: what a working-tree run measured
    besides the commit."""
    try:
        return subprocess.run(
            ["git", "status", "--porcelain", "--", PACKAGE, "tests"], cwd=REPO, capture_output=True,
            text=True, check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return []


def main(argv: Sequence[str] | None = None) -> int:
    """The script: measure the chosen defects (all by default, after the clean copy), print the
    table, optionally write the results as JSON. Exit code 0, or 2 for bad input (an unknown
    defect id, a revision that is not a commit)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="measure only these defects")
    parser.add_argument("--examples", type=int, default=200, help="explore's -n (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="explore's --seed (default 0)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results here")
    parser.add_argument("--no-baseline", action="store_true", help="skip the clean copy's row")
    parser.add_argument(
        "--revision", metavar="REV",
        help="measure git revision REV's package and tests (e.g. HEAD) instead of the working tree's",
    )
    args = parser.parse_args(argv)

    by_id = {d.id: d for d in DEFECTS}
    unknown = [i for i in args.only or () if i not in by_id]
    if unknown:
        parser.error(f"unknown defect id(s) {unknown}; known: {sorted(by_id)}")
    commit = None
    if args.revision is not None:
        resolved = subprocess.run(
            ["git", "rev-parse", "--verify", f"{args.revision}^{{commit}}"], cwd=REPO,
            capture_output=True, text=True, check=False,
        )
        if resolved.returncode != 0:
            parser.error(f"--revision {args.revision}: not a commit of {REPO}")
        commit = resolved.stdout.strip()  # resolved once: HEAD may move while the rows run
    chosen: list[Defect | None] = [by_id[i] for i in args.only] if args.only else list(DEFECTS)
    if not args.no_baseline:
        chosen.insert(0, None)

    started = time.perf_counter()
    baselines: dict[tuple[str, ...], dict[str, Any]] = {}
    results = []
    for defect in chosen:
        name = defect.id if defect else "(none)"
        print(f"... {name}", file=sys.stderr, end="", flush=True)
        result = evaluate(defect, args.examples, args.seed, baselines, commit)
        results.append(result)
        explored = ", ".join(
            f"{e.flow} {e.examples_to_failure if e.caught else '-'}" for e in result.explore
        )
        print(
            f": suite {'caught' if result.caught_by_suite else '-'}, explore {explored}",
            file=sys.stderr, flush=True,
        )
    wall = time.perf_counter() - started
    print(table(results))
    measured = f"revision {args.revision} = {commit[:10]}" if commit else "working tree"
    print(
        f"wall time {wall:.0f} s for {len(results)} row(s); explore -n {args.examples} "
        f"--seed {args.seed}; {measured}"
    )
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "git_head": _git_head(),
                    "revision": args.revision,
                    "commit": commit,
                    "working_tree_changes": _working_tree_changes(),
                    "python": platform.python_version(),
                    "examples": args.examples,
                    "seed": args.seed,
                    "wall_seconds": round(wall, 1),
                    "results": [
                        {**asdict(r), "caught_by_suite": r.caught_by_suite,
                         "caught_by_explore": r.caught_by_explore, "escapes": r.escapes}
                        for r in results
                    ],
                },
                indent=2,
            )
            + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
