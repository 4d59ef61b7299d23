"""What publishers, consumers' dead-letter handling and the runner ask of a broker, whichever it is.

Two brokers implement :class:`EventBroker`: the Kafka-like :class:`~concertsim.sim.messaging.kafka.Broker`
(topics and partitions) and the RabbitMQ-like :class:`~concertsim.sim.messaging.rabbitmq.QueueBroker`
(exchanges and queues); ``broker.kind`` chooses one (:func:`concertsim.sim.run.system.build_system`).
Both accept a publish the same way, :func:`produce`: one produce request over the network and one
acknowledgement, so a fault on the ``publish`` or ``ack`` channel, a partition or a broker crash
means the same thing to a relay whichever broker it talks to. A publisher publishes through a
:class:`ProducerSession`, which lives as long as the process that opened it (a relay loop, a
service incarnation).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import simpy

from concertsim.models.events import Event
from concertsim.sim.infrastructure.network import BROKER_PARTY

if TYPE_CHECKING:
    from concertsim.sim.infrastructure.network import Network
    from concertsim.sim.infrastructure.workers import WorkerPool
    from concertsim.sim.infrastructure.world import World

__all__ = [
    "EventBroker", "produce", "ProducerSession", "ProducerStamp", "DedupWindow", "DeadLetter", "DeadLetterTopics",
]


class ProducerStamp(NamedTuple):
    """What an idempotent producer sends with a record: its session's producer id and the record's
    sequence number in that session."""

    producer_id: str
    sequence: int


Write = Callable[[str, list[Event], list[ProducerStamp]], Generator[simpy.Event, Any, None]]


@dataclass(slots=True, frozen=True)
class DeadLetter:
    """A message parked for manual handling: which group gave up on it, when, and why.

    ``number`` is its place in the dead-letter topics, counted from 1 in parking order: the
    identity of this one parked record, as a record's offset in a Kafka dead-letter topic is. The
    same event can be parked twice at the same moment from the same offset (a duplicated delivery
    parked behind its own first copy), and each copy is a letter of its own to re-drive."""

    group: str
    topic: str
    partition: int
    offset: int
    event: Event
    reason: str
    parked_at: float
    number: int = 0


class DeadLetterTopics:
    """The dead letters both brokers keep, and the keys they park (seed 4.2.3): a parked event's
    key stays blocked for its group until the letter is handled, so consumers park the key's later
    events behind it instead of letting a younger event of the same aggregate overtake it. A
    broker inherits this and calls :meth:`_open_dead_letters` in its constructor."""

    world: World
    dead_letters: list[DeadLetter]
    _parked_keys: dict[tuple[str, str], int]
    _letters_parked: int
    _next_letter: simpy.Event | None

    def _open_dead_letters(self) -> None:
        self.dead_letters = []
        self._parked_keys = {}
        self._letters_parked = 0
        self._next_letter = None

    def park(self, group: str, topic: str, partition: int, offset: int, event: Event, reason: str) -> None:
        """Park ``event`` for ``group``, with the reason, and block its key for the group."""
        self._letters_parked += 1
        self.dead_letters.append(
            DeadLetter(group, topic, partition, offset, event, reason, self.world.env.now, self._letters_parked)
        )
        address = (group, event.key)
        self._parked_keys[address] = self._parked_keys.get(address, 0) + 1
        self.world.record("broker.dead_letter", group, event.trace_id, event_id=event.event_id, type=event.type,
                          reason=reason)
        waiting, self._next_letter = self._next_letter, None
        if waiting is not None:
            waiting.succeed()

    def letter_parked(self) -> simpy.Event:
        """An event that fires when the next letter is parked, so a reader of the dead-letter topics
        waits for one at no cost."""
        if self._next_letter is None:
            self._next_letter = self.world.env.event()
        return self._next_letter

    def is_key_parked(self, group: str, key: str) -> bool:
        return (group, key) in self._parked_keys

    def unpark(self, letter: DeadLetter) -> None:
        """Take ``letter`` out once re-driven; its key is free again when no other letter parks it."""
        self.dead_letters.remove(letter)
        address = (letter.group, letter.event.key)
        remaining = self._parked_keys[address] - 1
        if remaining:
            self._parked_keys[address] = remaining
        else:
            del self._parked_keys[address]


class EventBroker(Protocol):
    """A broker as the rest of the runtime sees it.

    ``publish`` / ``publish_batch`` send events through a producer session and return whether the
    broker acknowledged them (a publisher without an acknowledgement publishes again: duplicates,
    never loss). ``subscribe`` registers a
    group's interest in an event type. Dead letters are :class:`~concertsim.sim.messaging.kafka.DeadLetter`
    records in ``dead_letters`` whichever broker parked them; ``park`` puts one there (and fires
    ``letter_parked``) and ``unpark`` takes it out once re-driven. ``total_lag`` counts the events not yet handled, so a
    run settles only when it is zero."""

    name: str
    is_up: bool
    topic_of: dict[str, str]
    interests: dict[str, list[str]]
    dead_letters: list[DeadLetter]
    writers: dict[tuple[str, int], WorkerPool]

    def publish(self, producer: ProducerSession, event: Event) -> Generator[simpy.Event, Any, bool]: ...

    def publish_batch(self, producer: ProducerSession, events: list[Event]) -> Generator[simpy.Event, Any, bool]: ...

    def subscribe(self, group: str, event_type: str) -> str: ...

    def park(self, group: str, topic: str, partition: int, offset: int, event: Event, reason: str) -> None: ...

    def is_key_parked(self, group: str, key: str) -> bool: ...

    def unpark(self, letter: DeadLetter) -> None: ...

    def letter_parked(self) -> simpy.Event: ...

    def total_lag(self) -> int: ...

    def crash(self) -> None: ...

    def restart(self) -> None: ...


def produce(
    world: World, network: Network, publish_timeout: float, is_up: Callable[[], bool], producer: ProducerSession,
    events: list[Event], write: Write,
) -> Generator[simpy.Event, Any, bool]:
    """Send ``events`` to the broker in one produce request from ``producer`` and wait for its one
    acknowledgement (True) or ``publish_timeout`` (False): the broker runs ``write`` on the events,
    each with its producer stamp, whole, in order, or not at all.

    The request is one message on the network, so a fault that strikes any of its events
    strikes the request: losing one loses the batch, duplicating one writes the batch twice (with
    the same stamps), and the request takes the longest delay any of them was given."""
    env = world.env
    source = producer.party
    stamps = producer.stamp(events)
    started = env.now
    latency = network.broker_latency() if network.reachable(source, BROKER_PARTY) else 0.0  # drawn for a message sent
    carried = [network.carry("publish", source, BROKER_PARTY, e.type, e.key, delay=latency)[0] for e in events]
    if all(carried):
        arrival = max(copies[0] for copies in carried)
        if arrival < publish_timeout:
            yield env.timeout(arrival)
            if is_up():
                copies = max(len(copies) for copies in carried)
                yield from write(source, events * copies, stamps * copies)
                last = events[-1]
                ack = network.transit_delays("ack", BROKER_PARTY, source, last.type, last.key)
                if ack and env.now - started + ack[0] < publish_timeout:
                    yield env.timeout(ack[0])
                    producer.acknowledged(events)
                    return True
    yield env.timeout(max(0.0, started + publish_timeout - env.now))
    for event in events:
        world.record("broker.publish_unacked", source, event.trace_id, event_id=event.event_id)
    return False


class ProducerSession:
    """A publisher's session with the broker, as Kafka's idempotent producer has one (KIP-98,
    ``enable.idempotence``): a producer id given when the session opens, and a sequence number
    for every record it sends. A record sent again because its send was not acknowledged (a lost
    request or acknowledgement, a timeout) is a retry and keeps its number; once acknowledged, a
    record sent again is a new record to the producer (the relay republishing a row it could not
    mark) and gets a new number. A publisher that restarts opens a new session, with a new producer
    id: nothing it sends is a retry of what the old session sent.

    Kafka numbers a producer's records per partition; numbering them per session identifies the
    same retries, which is all the broker's de-duplication asks (:class:`DedupWindow`)."""

    __slots__ = ("party", "producer_id", "_next_sequence", "_unacknowledged")

    def __init__(self, world: World, party: str) -> None:
        self.party = party
        """who publishes, as the trace names it (the service)"""
        self.producer_id = world.next_id(f"producer:{party}")
        self._next_sequence = 0
        self._unacknowledged: dict[str, int] = {}
        """event id -> the sequence number its unacknowledged send carried"""

    def stamp(self, events: list[Event]) -> list[ProducerStamp]:
        """The stamps ``events`` are sent with now: a retry's earlier number, or the next one."""
        stamps = []
        for event in events:
            sequence = self._unacknowledged.get(event.event_id)
            if sequence is None:
                sequence = self._unacknowledged[event.event_id] = self._next_sequence
                self._next_sequence += 1
            stamps.append(ProducerStamp(self.producer_id, sequence))
        return stamps

    def acknowledged(self, events: list[Event]) -> None:
        """The broker acknowledged ``events``: sending one of them again is a new record."""
        for event in events:
            self._unacknowledged.pop(event.event_id, None)


class DedupWindow:
    """The broker's de-duplication of publishes (``broker.dedup_window``): a publish that
    duplicates one already accepted for the same destination (a topic, an exchange) within
    ``seconds`` is dropped. A duplicate does not renew the window.

    What counts as a duplicate is the broker's: given a :class:`ProducerStamp` (Kafka's idempotent
    producer) a publish duplicates only one with the same stamp, a retry within one producer
    session; without one (RabbitMQ's message-deduplication exchange, keyed by a header carrying the
    event id) any earlier publish of the event id to the destination, whoever sent it."""

    __slots__ = ("seconds", "_accepted_at")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._accepted_at: dict[tuple[str, object], float] = {}

    def removes(
        self, world: World, source: str, destination: str, event: Event, stamp: ProducerStamp | None = None
    ) -> bool:
        """Whether ``event``, published by ``source`` to ``destination`` (with ``stamp``, if the
        broker de-duplicates by producer), is a duplicate to drop (recorded as
        ``broker.duplicate_removed``); if not, it is accepted now."""
        identity = event.event_id if stamp is None else stamp
        seen_at = self.duplicate_of(destination, identity, world.env.now)
        if seen_at is None:
            return False
        if stamp is None:
            world.record("broker.duplicate_removed", source, event.trace_id, event_id=event.event_id,
                         type=event.type, topic=destination, first_at=seen_at)
        else:
            world.record("broker.duplicate_removed", source, event.trace_id, event_id=event.event_id,
                         type=event.type, topic=destination, first_at=seen_at, producer=stamp.producer_id,
                         sequence=stamp.sequence)
        return True

    def duplicate_of(self, destination: str, identity: object, now: float) -> float | None:
        """When the publish this one (``identity``: an event id or a producer stamp) duplicates was
        accepted, or None (and it is accepted now)."""
        seen_at = self._accepted_at.get((destination, identity))
        if seen_at is not None and now - seen_at <= self.seconds:
            return seen_at
        self._accepted_at[(destination, identity)] = now
        return None
