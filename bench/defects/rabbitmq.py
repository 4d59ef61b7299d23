"""The RabbitMQ-like broker (``broker.kind: rabbitmq``): acknowledgements, nacks that requeue after a
backoff, and redelivery of what a closed channel held."""

from __future__ import annotations

from .defect import BOTH, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="rabbitmq-closed-channel-not-requeued",
        path="concertsim/sim/messaging/rabbitmq.py",
        before="        queue.ready.extendleft(reversed(held))\n",
        after="",
        flows=BOTH,
        why="Forgetting the messages a closed channel held unacknowledged (a crashed consumer, a "
        "lost delivery or ack) instead of putting them back at the head of the queue loses them, "
        "where AMQP redelivers every unacked message of a closed channel (no-lost-events, "
        "seat-view-converges).",
        scenario="rabbitmq-broker",
        witness=(),
    ),
    Defect(
        id="rabbitmq-nack-not-requeued",
        path="concertsim/sim/messaging/rabbitmq.py",
        before="            queue.delayed[message.tag] = message\n",
        after="",
        flows=BOTH,
        why="Scheduling a nacked message's retry without putting it in the delay queue that the "
        "retry takes it from drops every message whose handling failed once, where a nack asks "
        "for redelivery (no-lost-events, data-platform-exactly-once).",
        scenario="rabbitmq-broker",
        # The built-in retries in place; a nack into the delay queue is the other retry mode.
        settings=("broker.retry_in_place=false",),
        witness=(),
    ),
)
