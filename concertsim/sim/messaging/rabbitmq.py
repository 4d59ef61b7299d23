"""A RabbitMQ-like event broker (seed 8: "an event broker (Kafka or RabbitMQ)"), ``broker.kind: rabbitmq``.

Each publishing service has one exchange (``reservation-events``, ...); each consumer group has one
durable queue, bound to the exchanges for the event types the group handles. A publish that the
broker accepts is routed to every bound queue. A queue hands each message to one of its competing
consumers (:mod:`concertsim.sim.messaging.rabbitmq_consumer`), round robin among those holding fewer than
``prefetch`` unacknowledged messages; with ``single_active_consumer`` only the longest-connected
consumer receives and the others stand by. There is no order across competing consumers: two
messages of one seat handed to two consumers may be handled in either order.

A consumer settles each delivery after handling it: an *ack* removes it from the queue; a *nack*
(the handling failed) counts the failure and puts it in the queue's delay queue for the backoff of
that failure, then back at the tail of the queue (a retry queue with a TTL, as RabbitMQ does it);
a *reject* after the retry budget dead-letters it through the queue's dead-letter exchange, as a
:class:`~concertsim.sim.messaging.kafka.DeadLetter` with the reason. A message stays unacknowledged while a
consumer holds it, and returns to the head of the queue, to be delivered again, possibly to another
consumer, when the consumer's channel closes: the consumer stopped (a crash), or a delivery or an
acknowledgement on the channel was lost, which breaks the connection; either way the broker notices
after ``heartbeat`` seconds. A broker crash closes every channel at once; queues and messages are
durable, so every unacknowledged message is ready again when the broker is back. A duplicated
delivery reaches the consumer twice (its inbox skips the second) and the second settlement of a
message is ignored.

RabbitMQ removes no duplicates of its own. A de-duplication window (``broker.dedup_window``) stands
for the message-deduplication plugin's exchange (``x-message-deduplication``, ``x-cache-ttl`` the
window, the event id in ``x-deduplication-header``): it drops a publish of an event id it accepted
for the same exchange within the window, whoever published it, so unlike Kafka's idempotent
producer it also drops what a restarted relay publishes again. Redeliveries are not publishes, so
consumers still de-duplicate.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models.events import Event
from concertsim.sim.infrastructure.network import BROKER_PARTY
from concertsim.sim.messaging.event_broker import DeadLetterTopics, DedupWindow, ProducerSession, ProducerStamp, produce

if TYPE_CHECKING:
    from concertsim.sim.infrastructure.network import Network
    from concertsim.sim.infrastructure.workers import WorkerPool
    from concertsim.sim.infrastructure.world import World

__all__ = ["QueueBroker", "QueuedMessage", "Delivery", "Channel", "queue_name"]


def queue_name(group: str) -> str:
    return f"{group}-queue"


@dataclass(slots=True, eq=False)
class QueuedMessage:
    """One event in one group's queue. ``tag`` is its place in the queue's publishing order;
    ``failures`` counts the nacks it received (the retry count a delay queue carries in a header)."""

    tag: int
    event: Event
    exchange: str
    failures: int = 0
    deliveries: int = 0


@dataclass(slots=True, frozen=True)
class Delivery:
    """A message as handed to a consumer: its ``number``-th delivery, after ``failures`` failed
    handlings."""

    message: QueuedMessage
    number: int
    failures: int


class Channel:
    """One consumer's channel to a queue: the deliveries it holds unacknowledged (``unacked``, at
    most ``prefetch``) and those that reached the consumer and wait to be handled (``inbox``).

    A channel is *broken* from the moment a message on it is lost until the broker notices, and
    *closed* from then on (or at once, when the broker crashes); closing it requeues what it held.
    """

    __slots__ = ("group", "index", "consumer", "prefetch", "unacked", "inbox", "is_open", "is_broken",
                 "last_arrival", "_wake", "env")

    def __init__(self, env: simpy.Environment, group: str, index: int, consumer: str, prefetch: int) -> None:
        self.env = env
        self.group = group
        self.index = index
        self.consumer = consumer
        """the host the consumer runs on"""
        self.prefetch = prefetch
        self.unacked: dict[int, QueuedMessage] = {}
        self.inbox: deque[Delivery] = deque()
        self.is_open = True
        self.is_broken = False
        self.last_arrival = 0.0
        self._wake: simpy.Event | None = None

    @property
    def can_take(self) -> bool:
        return self.is_open and not self.is_broken and len(self.unacked) < self.prefetch

    def changed(self) -> simpy.Event:
        """An event that fires when a delivery arrives or the channel closes."""
        if self._wake is None:
            self._wake = self.env.event()
        return self._wake

    def notify(self) -> None:
        wake, self._wake = self._wake, None
        if wake is not None:
            wake.succeed()


class _Queue:
    __slots__ = ("name", "group", "ready", "delayed", "channels", "turn", "next_tag")

    def __init__(self, group: str) -> None:
        self.name = queue_name(group)
        self.group = group
        self.ready: deque[QueuedMessage] = deque()
        self.delayed: dict[int, QueuedMessage] = {}
        self.channels: list[Channel] = []
        self.turn = 0
        self.next_tag = 0

    def backlog(self) -> int:
        return len(self.ready) + len(self.delayed) + sum(len(c.unacked) for c in self.channels)


class QueueBroker(DeadLetterTopics):
    """Exchanges, a queue per consumer group with competing consumers, acks, redelivery, delay
    queues and a dead-letter exchange. Implements :class:`~concertsim.sim.messaging.event_broker.EventBroker`.
    A dead letter parks its key as in Kafka mode, but a later event of the key already delivered to
    another consumer may be handled first."""

    name = BROKER_PARTY

    def __init__(
        self,
        world: World,
        network: Network,
        publish_timeout: float,
        topic_of: dict[str, str],
        retry_delay: Callable[[int], float],
        heartbeat: float,
        single_active_consumer: bool = False,
        dedup_window: float | None = None,
    ) -> None:
        self.world = world
        self.env = world.env
        self.network = network
        self.publish_timeout = publish_timeout
        self.topic_of = topic_of
        """event type -> the exchange it is published to (its publisher's)"""
        self.retry_delay = retry_delay
        """the delay before a message nacked for the n-th time is ready again"""
        self.heartbeat = heartbeat
        self.single_active_consumer = single_active_consumer
        self.interests: dict[str, list[str]] = {}
        """event type -> the groups whose queue is bound to it"""
        self.queues: dict[str, _Queue] = {}
        """group -> its queue"""
        self._open_dead_letters()
        self.writers: dict[tuple[str, int], WorkerPool] = {}
        self._dedup = DedupWindow(dedup_window) if dedup_window is not None else None
        self._published: dict[str, int] = {}
        self.is_up = True

    # --- topology --------------------------------------------------------------------------------

    def subscribe(self, group: str, event_type: str) -> str:
        """Bind ``group``'s queue to ``event_type``; returns the queue's name."""
        queue = self.queues.get(group)
        if queue is None:
            queue = self.queues[group] = _Queue(group)
        groups = self.interests.setdefault(event_type, [])
        if group not in groups:
            groups.append(group)
        return queue.name

    # --- producing -------------------------------------------------------------------------------

    def publish(self, producer: ProducerSession, event: Event) -> Generator[simpy.Event, Any, bool]:
        return (yield from self.publish_batch(producer, [event]))

    def publish_batch(self, producer: ProducerSession, events: list[Event]) -> Generator[simpy.Event, Any, bool]:
        return (yield from produce(self.world, self.network, self.publish_timeout, lambda: self.is_up, producer,
                                   events, self._route))

    def _route(
        self, source: str, events: list[Event], stamps: list[ProducerStamp]
    ) -> Generator[simpy.Event, Any, None]:
        """Route ``events``; the producer ``stamps`` play no part (the deduplication exchange goes by
        the event id)."""
        for event in events:
            self._accept(source, event)
        return
        yield  # a generator, as a broker's write may take time

    def _accept(self, source: str, event: Event) -> None:
        exchange = self.topic_of[event.type]
        if self._dedup is not None and self._dedup.removes(self.world, source, exchange, event):
            return
        position = self._published.get(exchange, 0)
        self._published[exchange] = position + 1
        groups = self.interests.get(event.type, [])
        self.world.record(
            "broker.append", source, event.trace_id, event_id=event.event_id, type=event.type,
            key=event.key, topic=exchange, partition=0, offset=position, queues=[queue_name(g) for g in groups],
        )
        for group in groups:
            queue = self.queues[group]
            queue.ready.append(QueuedMessage(queue.next_tag, event, exchange))
            queue.next_tag += 1
            self._dispatch(queue)

    # --- delivering ------------------------------------------------------------------------------

    def open_channel(self, group: str, index: int, consumer: str, prefetch: int) -> Channel:
        """Consumer ``index`` of ``group`` (running on host ``consumer``) starts consuming."""
        queue = self.queues[group]
        channel = Channel(self.env, group, index, consumer, prefetch)
        queue.channels.append(channel)
        self._dispatch(queue)
        return channel

    def _receivers(self, queue: _Queue) -> list[Channel]:
        if self.single_active_consumer:
            return queue.channels[:1]  # the longest-connected consumer is the active one
        return queue.channels

    def _dispatch(self, queue: _Queue) -> None:
        """Hand ready messages to consumers with room, round robin, while there are both."""
        if not self.is_up:
            return
        while queue.ready:
            receivers = self._receivers(queue)
            chosen = None
            for step in range(len(receivers)):
                candidate = receivers[(queue.turn + step) % len(receivers)]
                if candidate.can_take:
                    chosen = candidate
                    queue.turn = (queue.turn + step + 1) % len(receivers)
                    break
            if chosen is None:
                return
            self._deliver(queue, chosen, queue.ready.popleft())

    def _deliver(self, queue: _Queue, channel: Channel, message: QueuedMessage) -> None:
        """Send ``message`` to ``channel``'s consumer. Deliveries on one channel arrive in order (one
        connection) unless a reorder fault lets later ones overtake; a lost one breaks the channel."""
        message.deliveries += 1
        channel.unacked[message.tag] = message
        event = message.event
        copies, overtaken = self.network.carry(
            "delivery", BROKER_PARTY, channel.consumer, event.type, event.key, queue.group,
            delay=self.network.broker_latency(),
        )
        if not copies:
            self.world.record("broker.delivery_lost", BROKER_PARTY, event.trace_id, group=queue.group,
                              event_id=event.event_id, consumer=channel.index)
            self.break_channel(channel, "delivery lost")
            return
        delivery = Delivery(message, message.deliveries, message.failures)
        for delay in copies:
            arrival = self.env.now + delay
            if not overtaken:
                arrival = max(arrival, channel.last_arrival)
                channel.last_arrival = arrival
            self.env.timeout(arrival - self.env.now).callbacks.append(partial(self._arrive, channel, delivery))

    @staticmethod
    def _arrive(channel: Channel, delivery: Delivery, _arrival: simpy.Event) -> None:
        if channel.is_open and not channel.is_broken:
            channel.inbox.append(delivery)
            channel.notify()

    # --- settling --------------------------------------------------------------------------------

    def settle(
        self, channel: Channel, tag: int, outcome: str, reason: str, _arrival: simpy.Event | None = None
    ) -> None:
        """A consumer's settlement of delivery ``tag`` reaches the broker: ``ack``, ``nack`` (requeue
        after the backoff of this failure) or ``reject`` (dead-letter with ``reason``). Ignored on a
        channel the broker has closed (the message was requeued then) or for a message already settled."""
        if not self.is_up or not channel.is_open or channel.is_broken:
            return
        message = channel.unacked.pop(tag, None)
        if message is None:
            return
        queue = self.queues[channel.group]
        event = message.event
        if outcome == "nack":
            message.failures += 1
            delay = self.retry_delay(message.failures)
            queue.delayed[message.tag] = message
            self.world.record("queue.requeued", BROKER_PARTY, event.trace_id, group=queue.group,
                              event_id=event.event_id, attempt=message.failures, due_at=self.env.now + delay)
            self.env.timeout(delay).callbacks.append(partial(self._undelay, queue, message))
        elif outcome == "reject":
            self.park(queue.group, message.exchange, channel.index, message.tag, event, reason)
        self._dispatch(queue)

    def _undelay(self, queue: _Queue, message: QueuedMessage, _due: simpy.Event) -> None:
        if queue.delayed.pop(message.tag, None) is not None:
            queue.ready.append(message)
            self._dispatch(queue)

    # --- channels that end -----------------------------------------------------------------------

    def break_channel(self, channel: Channel, reason: str) -> None:
        """A message on ``channel`` was lost (or its consumer stopped): the connection is gone, and
        the broker notices after ``heartbeat`` seconds, then requeues what the channel held."""
        if channel.is_broken or not channel.is_open:
            return
        channel.is_broken = True
        self.env.timeout(self.heartbeat).callbacks.append(lambda _: self._close(channel, reason))

    def _close(self, channel: Channel, reason: str) -> None:
        if not channel.is_open:
            return
        channel.is_open = False
        channel.inbox.clear()
        queue = self.queues[channel.group]
        queue.channels.remove(channel)
        held = sorted(channel.unacked.values(), key=lambda m: m.tag)
        channel.unacked.clear()
        for message in held:
            self.world.record("queue.redelivered", BROKER_PARTY, message.event.trace_id, group=queue.group,
                              event_id=message.event.event_id, consumer=channel.index, reason=reason)
        queue.ready.extendleft(reversed(held))
        channel.notify()
        self._dispatch(queue)

    # --- dead letters ----------------------------------------------------------------------------

    # --- state -----------------------------------------------------------------------------------

    def total_lag(self) -> int:
        """Messages not yet settled: ready, held by a consumer, or waiting in a delay queue."""
        return sum(queue.backlog() for queue in self.queues.values())

    def crash(self) -> None:
        """The broker stops: every channel closes at once; queues and their messages are durable."""
        if not self.is_up:
            return
        self.is_up = False
        self.world.record("host.crash", BROKER_PARTY)
        for queue in self.queues.values():
            for channel in list(queue.channels):
                self._close(channel, "broker crashed")

    def restart(self) -> None:
        if self.is_up:
            return
        self.is_up = True
        self.world.record("host.restart", BROKER_PARTY)
        for queue in self.queues.values():
            self._dispatch(queue)
