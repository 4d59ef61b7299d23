"""Event consumers: fetch from a partition, handle once, commit the offset (seed 4.2.3).

A consumer of group G reads one partition of one topic from G's committed offset, in batches. Each
event is handled in a local transaction that also records its id in the inbox, so a redelivered
event (after a crash before the offset commit, or a duplicated delivery) is recognised and skipped:
"each service stores the ids it has processed and skips duplicates". Handling that fails is retried
with exponential backoff up to ``retries`` times, in place (the partition waits: head-of-line
blocking) or, with ``broker.retry_topic``, from G's retry topic (the partition goes on, and a later
event of the same key may overtake the one being retried); then the event is parked in G's
dead-letter topic with the reason, or, without a dead-letter topic, dropped with an error log (it
is lost).

A delivery that the network loses is noticed as a gap: the consumer handles what arrived before it,
commits up to there and fetches again after ``fetch_timeout``.

After heal, :class:`DeadLetterRedrive` hands every parked letter back to its group in parking order
(:func:`redrive`), whichever broker parked it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from concertsim.models.errors import DomainError, UnreadableEvent
from concertsim.models.events import Event, EventPayload
from concertsim.sim.hosting.host import EventWork, Host, Unavailable
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.messaging.event_broker import EventBroker
from concertsim.sim.messaging.kafka import BROKER, Broker, DeadLetter, RetryEntry

__all__ = [
    "ConsumerPolicy",
    "consume_partition",
    "consumer_name",
    "redrive",
    "DeadLetterRedrive",
    "handle_with_retries",
    "consume_retries",
    "attempt_handling",
    "give_up",
]

def consumer_name(group: str, topic: str, partition: int) -> str:
    return f"consumer:{group}:{topic}:{partition}"


@dataclass(frozen=True, slots=True)
class ConsumerPolicy:
    dedup: bool
    retries: int
    dead_letter: bool
    retry_backoff: float
    fetch_timeout: float
    fetch_batch: int = 20
    retry_topic: bool = False
    """Retry a failed handling from the group's retry topic instead of in place: the partition
    goes on meanwhile (no head-of-line blocking), so a later event of the same key may be handled
    before the one being retried."""

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retrying after the ``attempt``-th failed handling."""
        return self.retry_backoff * 2 ** (attempt - 1)


def _read_as_delivered(host: Host, group: str, event: Event, now: float) -> Event:
    """``event`` with the payload ``group`` derives from its body, when its schema is being
    upgraded (seed 6.3): the body parsed by the group's reader at ``now``, recorded as
    ``consumer.read``. Raises :class:`UnreadableEvent` (recorded as ``consumer.unreadable``) if
    that reader cannot read it."""
    rollout = host.world.scenario.schema_rollout()
    if rollout is None or not rollout.shipped or rollout.event_type != event.type or event.body is None:
        return event
    reads = rollout.reader_version(host.env.now)  # the deployment's moment, not the host's skewed clock
    try:
        payload = rollout.read(event.body, event.version, reads)
    except UnreadableEvent as refused:
        host.world.record("consumer.unreadable", host.name, event.trace_id, group=group, event_id=event.event_id,
                          type=event.type, version=event.version, reads=reads, reader=rollout.reader,
                          reason=refused.reason)
        raise
    host.world.record("consumer.read", host.name, event.trace_id, group=group, event_id=event.event_id,
                      type=event.type, version=event.version, reads=reads, reader=rollout.reader,
                      payload=payload.model_dump())
    return event.model_copy(update={"payload": payload})


def handle_once(
    host: Host, group: str, event: Event, work: EventWork, dedup: bool
) -> Generator[simpy.Event, Any, bool]:
    """Handle ``event`` in one transaction with the inbox; True if handled, False if skipped as a
    duplicate."""

    def in_transaction(tx: Transaction, now: float) -> tuple[bool, list[EventPayload]]:
        if dedup and tx.is_processed(group, event.event_id):
            return False, []
        raised = work(tx, now, _read_as_delivered(host, group, event, now))
        if dedup:
            tx.mark_processed(group, event.event_id)
        return True, raised

    return (
        yield from host.transact(
            in_transaction, event.trace_id, causation_id=event.event_id, label=f"{group}<-{event.type}"
        )
    )


def attempt_handling(
    host: Host, group: str, event: Event, work: EventWork, dedup: bool, attempt: int
) -> Generator[simpy.Event, Any, str | None]:
    """One attempt, the ``attempt``-th, at handling ``event`` on a worker of ``host``: None if it
    was handled or skipped as a duplicate (recorded as ``consumer.handled`` or
    ``consumer.duplicate_skipped``), else the reason it failed (recorded as ``consumer.failed``)."""
    try:
        handled = yield from host.work_on_worker(
            f"{group}<-{event.type}", handle_once(host, group, event, work, dedup)
        )
    except (DomainError, Unavailable) as failure:
        reason = getattr(failure, "message", str(failure))
        host.world.record(
            "consumer.failed", host.name, event.trace_id, group=group, event_id=event.event_id,
            attempt=attempt, reason=reason,
        )
        return reason
    host.world.record(
        "consumer.handled" if handled else "consumer.duplicate_skipped", host.name,
        event.trace_id, group=group, event_id=event.event_id, type=event.type,
    )
    return None


def give_up(
    host: Host, broker: EventBroker, group: str, topic: str, partition: int, offset: int, event: Event, reason: str,
    policy: ConsumerPolicy,
) -> None:
    """The retries are spent: park the event in the group's dead-letter topic, or drop it."""
    if policy.dead_letter:
        broker.park(group, topic, partition, offset, event, reason)
    else:
        host.world.record("consumer.dropped", host.name, event.trace_id, group=group, event_id=event.event_id,
                          reason=reason)


def queue_retry(
    host: Host, broker: Broker, group: str, topic: str, partition: int, offset: int, event: Event, attempt: int,
    policy: ConsumerPolicy,
) -> None:
    """Put the event in the group's retry topic, due after the backoff of its ``attempt``-th failure."""
    due_at = host.env.now + policy.backoff(attempt)
    broker.enqueue_retry(group, lambda seq: RetryEntry(due_at, seq, attempt, topic, partition, offset, event))
    host.world.record("consumer.retry_queued", host.name, event.trace_id, group=group, event_id=event.event_id,
                      attempt=attempt, due_at=due_at)


def consume_retries(
    host: Host, broker: Broker, group: str, handlers: dict[str, EventWork], policy: ConsumerPolicy,
) -> Generator[simpy.Event, Any, None]:
    """The loop of ``group``'s retry topic: take the entry due first, wait until it is due, handle
    it; a failure queues it again (or parks it once the retries are spent). An entry leaves the
    topic only when it is handled or given up, so a crash in between retries it again."""
    while True:
        entry = broker.next_retry(group)
        if entry is None:
            yield broker.retry_enqueued(group)
            continue
        if entry.due_at > host.env.now:
            yield host.env.timeout(entry.due_at - host.env.now) | broker.retry_enqueued(group)
            continue
        event = entry.event
        attempt = entry.attempt + 1
        reason = yield from attempt_handling(host, group, event, handlers[event.type], policy.dedup, attempt)
        broker.retried(group, entry)
        if reason is None:
            continue
        if attempt > policy.retries:
            give_up(host, broker, group, entry.topic, entry.partition, entry.offset, event, reason, policy)
        else:
            queue_retry(host, broker, group, entry.topic, entry.partition, entry.offset, event, attempt, policy)


def handle_with_retries(
    host: Host, broker: Broker, group: str, topic: str, partition: int, offset: int,
    event: Event, work: EventWork, policy: ConsumerPolicy,
) -> Generator[simpy.Event, Any, None]:
    """Handle one delivered event, retrying failures with backoff, then park or drop it."""
    if policy.dead_letter and broker.is_key_parked(group, event.key):
        broker.park(group, topic, partition, offset, event, f"behind a parked event of key {event.key}")
        return
    attempt = 0
    while True:
        attempt += 1
        reason = yield from attempt_handling(host, group, event, work, policy.dedup, attempt)
        if reason is None:
            return
        if attempt > policy.retries:
            give_up(host, broker, group, topic, partition, offset, event, reason, policy)
            return
        if policy.retry_topic:
            queue_retry(host, broker, group, topic, partition, offset, event, attempt, policy)
            return
        yield host.env.timeout(policy.backoff(attempt))


def consume_partition(
    host: Host, broker: Broker, network: Network, group: str, topic: str, partition: int,
    handlers: dict[str, EventWork], policy: ConsumerPolicy,
) -> Generator[simpy.Event, Any, None]:
    """The consumer loop of (group, topic, partition): fetch, handle each event of a type in
    ``handlers`` (skipping the topic's other types), commit the offset.

    Like a Kafka consumer, it keeps its position in memory: a lost offset commit costs nothing
    until the consumer restarts, which resumes from the last committed offset and so redelivers
    what it had handled since (at-least-once). Once caught up it commits again until the commit
    lands."""
    env = host.env
    world = host.world
    position = broker.committed(group, topic, partition)
    while True:
        offset = position
        log = broker.log(topic, partition)
        if offset >= len(log):
            if broker.committed(group, topic, partition) < position:
                # Caught up, but the last commit was lost: commit again, as a Kafka consumer's
                # periodic commit would, until it lands (else the group's lag never reaches zero).
                if not (yield from _commit_offset(host, broker, network, group, topic, partition, position)):
                    return
                if broker.committed(group, topic, partition) < position:
                    yield env.timeout(policy.fetch_timeout)
                continue
            yield broker.appended(topic, partition)
            continue
        if not broker.is_up or not network.reachable(host.name, BROKER):
            yield env.timeout(policy.fetch_timeout)
            continue
        batch = log[offset : offset + policy.fetch_batch]
        arrivals, delivered = _arrivals(network, host.name, group, batch, offset)
        gap = delivered < len(batch)
        if gap:
            lost = batch[delivered]
            world.record(
                "broker.delivery_lost", BROKER, lost.trace_id, group=group, event_id=lost.event_id
            )
            batch = batch[:delivered]
        fetched_at = env.now
        for delay, message_offset, event in arrivals:
            wait = fetched_at + delay - env.now
            if wait > 0:
                yield env.timeout(wait)
            work = handlers.get(event.type)
            if work is None:
                continue
            world.record(
                "broker.deliver", BROKER, event.trace_id, group=group, event_id=event.event_id,
                type=event.type, partition=partition, offset=message_offset,
            )
            yield from handle_with_retries(
                host, broker, group, topic, partition, message_offset, event, work, policy
            )
        if batch:
            position = offset + len(batch)
            if not (yield from _commit_offset(host, broker, network, group, topic, partition, position)):
                return  # fenced: this replica lost the partition to a rebalance while it was away
        if gap:
            yield env.timeout(policy.fetch_timeout)


def _arrivals(
    network: Network, consumer: str, group: str, batch: list[Event], offset: int
) -> tuple[list[tuple[float, int, Event]], int]:
    """When each event of a fetched batch reaches the consumer, in handling order.

    The batch travels as one response, so its events arrive in log order after one latency; a
    delayed event holds back the rest of the partition behind it (order holds within a
    partition), while a reordered one is overtaken. A lost event ends the batch there: the
    consumer notices the gap and fetches again. Returns the arrivals and how many events of the
    batch were delivered.
    """
    base = network.broker_latency()
    arrivals: list[tuple[float, int, Event]] = []
    head_of_line = 0.0
    for index, event in enumerate(batch):
        copies, overtaken = network.carry(
            "delivery", BROKER, consumer, event.type, event.key, group, delay=base
        )
        if not copies:
            return sorted(arrivals, key=lambda a: (a[0], a[1])), index
        for delay in copies:
            arrival = delay if overtaken else max(delay, head_of_line)
            if not overtaken:
                head_of_line = arrival
            arrivals.append((arrival, offset + index, event))
    return sorted(arrivals, key=lambda a: (a[0], a[1])), len(batch)


def _commit_offset(
    host: Host, broker: Broker, network: Network, group: str, topic: str, partition: int, offset: int
) -> Generator[simpy.Event, Any, bool]:
    """Send an offset commit; False if the group's coordinator refused it because ``host`` is no
    longer of the group's current generation (:meth:`ServiceGroup.commit`): the loop must stop."""
    yield from host.awake()
    copies = network.transit_delays("offset_commit", host.name, BROKER, topic, "", group=group)
    if copies:
        yield host.env.timeout(copies[0])
    if copies and broker.is_up:
        if host.membership is None:
            broker.commit(group, topic, partition, offset)
        else:
            return host.membership.commit(host, group, topic, partition, offset)
    else:
        host.world.record("consumer.commit_lost", host.name, group=group, topic=topic, offset=offset)
    return True


def redrive(
    host: Host, broker: EventBroker, letter: DeadLetter, work: EventWork, dedup: bool
) -> Generator[simpy.Event, Any, bool]:
    """Hand one parked event to its group again (the operator's manual handling, seed 4.2.3).
    It leaves the dead-letter topic only if handling now succeeds; returns whether it did."""
    event = letter.event
    try:
        handled = yield from host.work_on_worker(
            f"{letter.group}<-{event.type}", handle_once(host, letter.group, event, work, dedup)
        )
    except (DomainError, Unavailable) as failure:
        host.world.record(
            "dlq.redrive_failed", letter.group, event.trace_id, event_id=event.event_id,
            reason=getattr(failure, "message", str(failure)),
        )
        return False
    broker.unpark(letter)
    host.world.record(
        "dlq.redriven", letter.group, event.trace_id, event_id=event.event_id,
        outcome="handled" if handled else "duplicate_skipped",
    )
    host.world.record(
        "consumer.handled" if handled else "consumer.duplicate_skipped", host.name,
        event.trace_id, group=letter.group, event_id=event.event_id, type=event.type,
    )
    return True


class DeadLetterRedrive:
    """The operator's re-drive after heal (seed 4.2.3: "a dead-letter queue for manual handling"):
    hands each parked letter back to its group, one at a time in parking order, and keeps reading
    the dead-letter topics until the run settles, as a listener on a dead-letter topic does, so a
    letter parked after the others were re-driven is re-driven too (a reject that reached the
    broker late, an event parked behind a key while its letters were being re-driven).

    A letter is tried once. One that fails again stays parked, and so do the later letters of its
    key: they are not tried, since handling them would overtake it. ``idle`` says the re-drive has
    nothing left to do now: no letter in hand and none waiting to be tried."""

    def __init__(
        self, broker: EventBroker, host_of: Callable[[str], Host], work_of: Callable[[str, str], EventWork],
        dedup: bool,
    ) -> None:
        self.broker = broker
        self.host_of = host_of
        """group -> the host that handles its events"""
        self.work_of = work_of
        """(group, event type) -> the group's handling of it"""
        self.dedup = dedup
        self._tried: set[int] = set()
        self._stuck: set[tuple[str, str]] = set()
        self._in_hand = False

    @property
    def idle(self) -> bool:
        return not self._in_hand and self.waiting() is None

    def waiting(self) -> DeadLetter | None:
        """The first letter, in parking order, not tried yet and not behind a letter that failed."""
        return next(
            (letter for letter in self.broker.dead_letters
             if letter.number not in self._tried and (letter.group, letter.event.key) not in self._stuck),
            None,
        )

    def run(self) -> Generator[simpy.Event, Any, None]:
        while True:
            letter = self.waiting()
            if letter is None:
                yield self.broker.letter_parked()
                continue
            self._tried.add(letter.number)
            host = self.host_of(letter.group)
            work = self.work_of(letter.group, letter.event.type)
            self._in_hand = True
            done = yield host.spawn(redrive(host, self.broker, letter, work, self.dedup))
            self._in_hand = False
            if not done:
                self._stuck.add((letter.group, letter.event.key))
