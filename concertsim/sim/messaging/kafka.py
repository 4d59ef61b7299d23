"""A Kafka-like event broker (seed 8).

Each publishing service has one topic (``reservation-events``, ...) holding every event type it
raises, split into partitions. A publish appends the event to one partition, chosen by the event's
key (so one aggregate's events keep their order, seed 4.2.3) or at random (the
``partitioning=random`` ablation). One topic per *publisher* rather than per event type is what
makes the key work: a seat's SeatReservedEvent and its later ReservationCompletedEvent share a
partition, so no consumer can apply them in the wrong order. Consumer groups read each partition from a committed
offset; a consumer commits after handling, so a crash in between means redelivery: delivery is at
least once, and order holds within a partition only.

With a de-duplication window (``broker.dedup_window``) the broker de-duplicates as Kafka does for
an idempotent producer (``enable.idempotence``, KIP-98): by producer id and sequence number, so it
drops a retry within one producer session (a lost request or acknowledgement, a duplicated produce
request) that it appended within the window. A relay that crashes before marking restarts with a
new producer id and its republished rows are appended again, as is a row the relay republishes
because it could not mark it: those duplicates reach the consumers, whose inbox must absorb them.
Redeliveries to consumers (a lost offset commit) are not duplicates in the log either.

The log is durable: a broker crash makes it unreachable (publishes and fetches fail, offset commits
are lost) but keeps every acknowledged event. A message a group could not handle within its retry
budget is parked in the group's dead-letter topic with the reason (seed 4.2.3).
"""

from __future__ import annotations

import zlib
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models.events import Event
from concertsim.sim.infrastructure.network import BROKER_PARTY
from concertsim.sim.infrastructure.workers import WorkerPool
from concertsim.sim.messaging.event_broker import (
    DeadLetter,
    DeadLetterTopics,
    DedupWindow,
    ProducerSession,
    ProducerStamp,
    produce,
)

if TYPE_CHECKING:
    from concertsim.sim.infrastructure.network import Network
    from concertsim.sim.infrastructure.world import World

__all__ = ["Broker", "DeadLetter", "RetryEntry", "BROKER"]

BROKER = BROKER_PARTY


@dataclass(slots=True, frozen=True)
class RetryEntry:
    """An event a group failed to handle, waiting in the group's retry topic until ``due_at``:
    its ``attempt``-th retry."""

    due_at: float
    seq: int
    attempt: int
    topic: str
    partition: int
    offset: int
    event: Event


class Broker(DeadLetterTopics):
    """Topics, partitions, consumer-group offsets and dead-letter topics.

    ``publish`` is a generator returning whether the broker acknowledged the event; a publisher that
    gets no acknowledgement cannot know whether the event was appended (a lost ack), so it publishes
    again: duplicates, never loss. ``appended(topic, partition)`` is an event that fires when the
    partition grows, so idle consumers cost nothing.
    """

    name = BROKER

    def __init__(
        self,
        world: World,
        network: Network,
        partitions: int,
        partitioning: str,
        publish_timeout: float,
        topic_of: dict[str, str],
        dedup_window: float | None = None,
        append_time: float | None = None,
    ) -> None:
        self.world = world
        self.env = world.env
        self.network = network
        self.partitions = partitions
        self.partitioning = partitioning
        self.publish_timeout = publish_timeout
        self._random_partition = world.rng("broker/partitioning")
        self.logs: dict[tuple[str, int], list[Event]] = {}
        self._growth: dict[tuple[str, int], simpy.Event] = {}
        self.offsets: dict[tuple[str, str, int], int] = {}
        self.topic_of = topic_of
        """event type -> the topic it is published to"""
        self.subscriptions: dict[str, list[str]] = {}
        """topic -> consumer groups reading it"""
        self.interests: dict[str, list[str]] = {}
        """event type -> the groups that handle it (a group skips the other types of its topics)"""
        self._open_dead_letters()
        self.retry_topics: dict[str, list[RetryEntry]] = {}
        """group -> its retry topic (with ``broker.retry_topic``), durable like the log"""
        self._retry_growth: dict[str, simpy.Event] = {}
        self._retry_seq = 0
        self.dedup_window = dedup_window
        """Seconds during which the broker drops a retry of a record it appended, recognised by its
        producer stamp (the idempotent producer the seed's "removes duplicates" assumes); None: it
        keeps every copy."""
        self._dedup = DedupWindow(dedup_window) if dedup_window is not None else None
        self.append_time = append_time
        """Seconds an append holds its partition's log writer (None: no limit)."""
        self.writers: dict[tuple[str, int], WorkerPool] = {}
        """(topic, partition) -> its log writer, when appends take time"""
        self.is_up = True

    # --- topology --------------------------------------------------------------------------------

    def subscribe(self, group: str, event_type: str) -> str:
        """``group`` handles ``event_type``; returns the topic it must read."""
        topic = self.topic_of[event_type]
        for registry, name in ((self.subscriptions, topic), (self.interests, event_type)):
            groups = registry.setdefault(name, [])
            if group not in groups:
                groups.append(group)
        return topic

    def partition_for(self, event: Event) -> int:
        if self.partitioning == "random":
            return self._random_partition.randrange(self.partitions)
        return zlib.crc32(event.key.encode()) % self.partitions

    # --- producing -------------------------------------------------------------------------------

    def publish(self, producer: ProducerSession, event: Event) -> Generator[simpy.Event, Any, bool]:
        """Send ``event`` from ``producer`` to the broker and wait for its acknowledgement (True)
        or a timeout: a produce request of one event."""
        return (yield from self.publish_batch(producer, [event]))

    def publish_batch(self, producer: ProducerSession, events: list[Event]) -> Generator[simpy.Event, Any, bool]:
        """Send ``events`` from ``producer`` in one produce request and wait for its one
        acknowledgement (True) or a timeout: the batch is appended whole, in order, or not at all
        (:func:`produce`)."""
        return (yield from produce(self.world, self.network, self.publish_timeout, lambda: self.is_up, producer,
                                   events, self._write))

    def _write(
        self, source: str, events: list[Event], stamps: list[ProducerStamp]
    ) -> Generator[simpy.Event, Any, None]:
        """Append ``events`` (sent with ``stamps``) in order. With a partition throughput limit
        (``append_time``) each append holds its partition's log writer for ``append_time`` seconds,
        queueing behind the appends before it, so a partition takes at most ``1 / append_time``
        events a second."""
        if self.append_time is None:
            for event, stamp in zip(events, stamps):
                self._append(source, event, stamp)
            return
        for event, stamp in zip(events, stamps):
            topic, partition = self.topic_of[event.type], self.partition_for(event)
            writer = self.writers.get((topic, partition))
            if writer is None:
                writer = self.writers[(topic, partition)] = WorkerPool(self.env, 1)
            yield from writer.take()
            try:
                yield self.env.timeout(self.append_time)
            finally:
                writer.release()
            if self.is_up:
                self._append(source, event, stamp, partition)

    def _append(self, source: str, event: Event, stamp: ProducerStamp, partition: int | None = None) -> None:
        topic = self.topic_of[event.type]
        if self._dedup is not None and self._dedup.removes(self.world, source, topic, event, stamp):
            return
        if partition is None:
            partition = self.partition_for(event)
        address = (topic, partition)
        log = self.logs.setdefault(address, [])
        log.append(event)
        self.world.record(
            "broker.append", source, event.trace_id, event_id=event.event_id, type=event.type,
            key=event.key, topic=topic, partition=partition, offset=len(log) - 1,
        )
        growth = self._growth.pop(address, None)
        if growth is not None:
            growth.succeed()

    # --- consuming -------------------------------------------------------------------------------

    def log(self, topic: str, partition: int) -> list[Event]:
        return self.logs.get((topic, partition), [])

    def appended(self, topic: str, partition: int) -> simpy.Event:
        address = (topic, partition)
        growth = self._growth.get(address)
        if growth is None:
            growth = self._growth[address] = self.env.event()
        return growth

    def committed(self, group: str, topic: str, partition: int) -> int:
        return self.offsets.get((group, topic, partition), 0)

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        address = (group, topic, partition)
        if offset > self.offsets.get(address, 0):
            self.offsets[address] = offset

    def lag(self, group: str, topic: str, partition: int) -> int:
        return len(self.log(topic, partition)) - self.committed(group, topic, partition)

    def total_lag(self) -> int:
        """Events not yet handled: behind each group's committed offsets, and waiting in retry topics."""
        logs, offsets = self.logs, self.offsets
        behind = 0
        for topic, groups in self.subscriptions.items():  # :meth:`lag` summed, without a call per term
            for partition in range(self.partitions):
                length = len(logs.get((topic, partition), ()))
                for group in groups:
                    behind += length - offsets.get((group, topic, partition), 0)
        return behind + sum(len(entries) for entries in self.retry_topics.values())

    # --- retry topics ----------------------------------------------------------------------------

    def enqueue_retry(self, group: str, entry_for: Any) -> RetryEntry:
        """Append to ``group``'s retry topic the entry ``entry_for(seq)`` builds."""
        self._retry_seq += 1
        entry = entry_for(self._retry_seq)
        self.retry_topics.setdefault(group, []).append(entry)
        growth = self._retry_growth.pop(group, None)
        if growth is not None:
            growth.succeed()
        return entry

    def next_retry(self, group: str) -> RetryEntry | None:
        """The entry of ``group``'s retry topic due first (None if it is empty); it stays in the
        topic until :meth:`retried`, so a consumer that crashes while retrying it retries it again."""
        entries = self.retry_topics.get(group)
        return min(entries, key=lambda e: (e.due_at, e.seq)) if entries else None

    def retried(self, group: str, entry: RetryEntry) -> None:
        self.retry_topics[group].remove(entry)

    def retry_enqueued(self, group: str) -> simpy.Event:
        growth = self._retry_growth.get(group)
        if growth is None:
            growth = self._retry_growth[group] = self.env.event()
        return growth

    # --- lifecycle -------------------------------------------------------------------------------

    def crash(self) -> None:
        if self.is_up:
            self.is_up = False
            self.world.record("host.crash", BROKER)

    def restart(self) -> None:
        if not self.is_up:
            self.is_up = True
            self.world.record("host.restart", BROKER)
