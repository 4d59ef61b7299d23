"""Competing consumers of a group's queue (``broker.kind: rabbitmq``, :mod:`concertsim.sim.messaging.rabbitmq`).

Each consumer of group G opens a channel to G's queue, takes the deliveries that arrive on it one at
a time, handles each with the same transaction and inbox as a Kafka consumer
(:func:`~concertsim.sim.messaging.consumer.attempt_handling`: a redelivered or duplicated event is skipped),
then settles it with the broker: an ack once handled; a nack when the handling failed, which
requeues it after the backoff of that failure (the retry count travels with the message, so any
consumer may take the next attempt); after ``design.retries`` failed retries a reject, which sends
it to the dead-letter exchange with the reason (or, without a dead-letter topic, drops it with an
error log after an ack). With ``broker.retry_in_place`` the consumer instead retries a failing
message itself, holding it unacknowledged, as a Kafka consumer retries in place
(:func:`~concertsim.sim.messaging.consumer.handle_with_retries`), then parks or drops it and acks.
Settlements travel on the ``offset_commit`` channel of the network; one that is lost breaks the
channel. A consumer whose channel was closed opens a new one; a consumer that crashes takes its
channel down with it, and the broker requeues what it held.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

import simpy

from concertsim.scenarios.schema import BrokerSpec
from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.consumer import (
    ConsumerPolicy,
    EventWork,
    attempt_handling,
    consumer_name,
    give_up,
    handle_with_retries,
)
from concertsim.sim.messaging.kafka import BROKER
from concertsim.sim.messaging.rabbitmq import Channel, Delivery, QueueBroker, queue_name

__all__ = ["build_queue_broker", "consume_queue", "start_queue_consumers"]


def build_queue_broker(
    world: World, network: Network, topic_of: dict[str, str], policy: ConsumerPolicy
) -> QueueBroker:
    """The scenario's RabbitMQ-like broker: nacked messages wait the consumers' backoff, and the
    broker notices a broken channel after ``broker.fetch_timeout`` (the time a Kafka consumer
    takes to notice a gap, so a lost delivery costs the same wait in both modes)."""
    spec = world.scenario.broker
    return QueueBroker(
        world, network, publish_timeout=world.scenario.network.call_timeout, topic_of=topic_of,
        retry_delay=policy.backoff, heartbeat=spec.fetch_timeout,
        single_active_consumer=spec.single_active_consumer, dedup_window=spec.dedup_window,
    )


def start_queue_consumers(
    host: Host, broker: QueueBroker, network: Network, group: str, handlers: dict[str, EventWork],
    policy: ConsumerPolicy, spec: BrokerSpec, replica: int = 0,
) -> None:
    """Register ``spec.consumers_per_queue`` competing consumers (default: one per partition, the
    parallelism of Kafka mode) of ``group``'s queue as daemons of ``host``, named like partition
    consumers (``consumer:<group>:<queue>:<index>``) so that a crash of ``consumer:<group>`` stops
    them all. Each replica of a service runs a set of its own: the ``replica``-th (from 0) numbers
    its consumers after those of the replicas before it."""
    consumers = spec.consumers_per_queue or spec.partitions
    for index in range(replica * consumers, (replica + 1) * consumers):
        host.daemon(
            consumer_name(group, queue_name(group), index),
            partial(consume_queue, host, broker, network, group, index, handlers, policy, spec.prefetch,
                    spec.retry_in_place),
        )


def consume_queue(
    host: Host, broker: QueueBroker, network: Network, group: str, index: int, handlers: dict[str, EventWork],
    policy: ConsumerPolicy, prefetch: int, retry_in_place: bool = False,
) -> Generator[simpy.Event, Any, None]:
    """Consumer ``index`` of ``group``: while the broker is reachable, consume from a channel
    until it closes, then open another. Stopped (its host crashed), it leaves its channel to the
    broker's heartbeat, which requeues what the channel held."""
    while True:
        if not broker.is_up or not network.reachable(host.name, BROKER):
            yield host.env.timeout(policy.fetch_timeout)
            continue
        channel = broker.open_channel(group, index, host.name, prefetch)
        try:
            yield from _consume(host, broker, network, channel, handlers, policy, retry_in_place)
        except simpy.Interrupt:
            broker.break_channel(channel, "consumer stopped")
            raise


def _consume(
    host: Host, broker: QueueBroker, network: Network, channel: Channel, handlers: dict[str, EventWork],
    policy: ConsumerPolicy, retry_in_place: bool,
) -> Generator[simpy.Event, Any, None]:
    """Handle what arrives on ``channel`` until it closes. Retrying in place, the consumer holds a
    failing message through its retries with backoff (nothing behind it on this channel moves),
    then parks or drops it and acks; otherwise each failure is a nack, and the last a reject. An
    event whose key is parked in the dead-letter exchange is parked behind it (rejected unhandled)."""
    world = host.world
    while channel.is_open:
        if not channel.inbox:
            yield channel.changed()
            continue
        delivery = channel.inbox.popleft()
        message = delivery.message
        event = message.event
        world.record(
            "broker.deliver", BROKER, event.trace_id, group=channel.group, event_id=event.event_id,
            type=event.type, partition=channel.index, offset=message.tag, delivery=delivery.number,
        )
        work = handlers[event.type]
        if retry_in_place:
            yield from handle_with_retries(host, broker, channel.group, message.exchange, channel.index, message.tag,
                                           event, work, policy)
            _settle(host, broker, network, channel, delivery, "ack")
            continue
        if policy.dead_letter and broker.is_key_parked(channel.group, event.key):
            _settle(host, broker, network, channel, delivery, "reject", f"behind a parked event of key {event.key}")
            continue
        attempt = delivery.failures + 1
        reason = yield from attempt_handling(host, channel.group, event, work, policy.dedup, attempt)
        if reason is None:
            _settle(host, broker, network, channel, delivery, "ack")
        elif attempt <= policy.retries:
            _settle(host, broker, network, channel, delivery, "nack", reason)
        elif policy.dead_letter:
            _settle(host, broker, network, channel, delivery, "reject", reason)
        else:
            give_up(host, broker, channel.group, message.exchange, channel.index, message.tag, event, reason, policy)
            _settle(host, broker, network, channel, delivery, "ack")


def _settle(
    host: Host, broker: QueueBroker, network: Network, channel: Channel, delivery: Delivery, outcome: str,
    reason: str = "",
) -> None:
    """Send the settlement of ``delivery`` to the broker without waiting for it (acks are not
    confirmed); a lost one breaks the channel."""
    event = delivery.message.event
    copies = network.transit_delays("offset_commit", host.name, BROKER, event.type, event.key, group=channel.group)
    if not copies:
        host.world.record("consumer.ack_lost", host.name, event.trace_id, group=channel.group,
                          event_id=event.event_id, outcome=outcome)
        broker.break_channel(channel, "acknowledgement lost")
        return
    host.env.timeout(copies[0]).callbacks.append(
        partial(broker.settle, channel, delivery.message.tag, outcome, reason)
    )
