"""The run report's words for the broker: its section on how the broker delivered (shown for a
RabbitMQ-like broker, or whenever a consumer group handled events of one key out of publishing
order: ``metrics.broker``, :mod:`concertsim.metrics.broker_delivery`), its row in the scenario
table and the cause it gives a broken promise, both for a broker other than the Kafka-like default."""

from __future__ import annotations

from typing import Any

from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table
from concertsim.scenarios.schema import Scenario

__all__ = ["broker_delivery_blocks", "broker_row", "broker_cause", "ORDER_SENSITIVE"]

ORDER_SENSITIVE = ("seat-view-converges",)
"""The promises that rest on each key's events being handled in publishing order: Concert's seat
view applies seat events as they come (the counts behind the other read models do not care)."""


def _consumers(scenario: Scenario) -> str:
    spec = scenario.broker
    if spec.single_active_consumer:
        return "a single active consumer per queue"
    consumers = spec.consumers_per_queue or spec.partitions
    return f"{_times(consumers, 'competing consumer')} per queue"


def broker_row(scenario: Scenario) -> list[str] | None:
    """The scenario table's row for a RabbitMQ-like broker; None for the Kafka-like default."""
    if scenario.broker.kind != "rabbitmq":
        return None
    retries = "retried in place" if scenario.broker.retry_in_place else "nacked into a delay queue"
    return ["broker", "rabbitmq (changed from the default)",
            f"a queue per consumer group with {_consumers(scenario)}; a failed handling is {retries}; "
            "unacknowledged messages are redelivered (design section 8)"]


def broker_cause(scenario: Scenario, invariant: str) -> str | None:
    """Why a RabbitMQ-like broker lets ``invariant`` break, if it is one that rests on each key's
    order; None otherwise."""
    if scenario.broker.kind != "rabbitmq" or invariant not in ORDER_SENSITIVE:
        return None
    return (f"The broker is RabbitMQ-like (broker.kind=rabbitmq, {_consumers(scenario)}): a queue keeps no order "
            "between a key's events once one is redelivered to another consumer, waits in the delay queue, or "
            "is delayed on its way to one consumer while another goes on; the Kafka-like default keeps each "
            "key's order in its partition, and this promise rests on it.")


def _times(count: int, word: str, plural: str = "") -> str:
    return f"{count} {word}" if count == 1 else f"{count} {plural or word + 's'}"


def _were(count: int) -> str:
    return "was" if count == 1 else "were"


def _queue_paragraph(broker: dict[str, Any]) -> Paragraph:
    consumers = broker["consumers_per_queue"]
    if broker["single_active_consumer"]:
        who = f"one active consumer of {consumers} (the others stand by)"
    else:
        who = f"{_times(consumers, 'competing consumer')}"
    reasons = ", ".join(f"{count} {reason}" for reason, count in broker["redelivered_by_reason"].items())
    return Paragraph(
        f"Each consumer group read its own queue with {who}. "
        f"{_times(broker['redeliveries'], 'message')} held unacknowledged went back to the queue, to be "
        f"delivered again, when a consumer's channel closed{f' ({reasons})' if reasons else ''}; "
        f"{_times(broker['requeues'], 'failed handling')} {_were(broker['requeues'])} nacked into the delay "
        f"queue for another attempt; {_times(broker['dead_letters'], 'event')} went to the dead-letter exchange. "
        f"The network lost {_times(broker['lost_deliveries'], 'delivery', 'deliveries')} and "
        f"{_times(broker['lost_acks'], 'acknowledgement')}."
    )


def broker_delivery_blocks(metrics: dict[str, Any]) -> list[Block]:
    broker = metrics["broker"]
    disorder = broker["out_of_order"]
    queues = broker["kind"] == "rabbitmq"
    if not queues and not disorder["handlings"]:
        return []
    blocks: list[Block] = [Heading(3, "Broker: queues and delivery order" if queues else "Events handled out of order")]
    if queues:
        blocks.append(_queue_paragraph(broker))
    if not disorder["handlings"]:
        blocks.append(Paragraph("Every group handled each key's events in the order they were published."))
        return blocks
    groups = ", ".join(f"{group} {count}" for group, count in disorder["by_group"].items())
    why = ("Competing consumers keep no order between the messages of one key, a redelivered message goes to "
           "whichever consumer has room, and a nacked one waits in the delay queue while later ones go on; a "
           "single active consumer keeps the order through redeliveries but not through retries." if queues else
           "A Kafka partition keeps a key's order; it is lost when retries go through a retry topic, a fault "
           "reorders deliveries, or events are partitioned at random.")
    blocks += [
        Paragraph(
            f"{_times(disorder['handlings'], 'event')} ({groups}) {_were(disorder['handlings'])} handled after a "
            f"later event of the same key from the same publisher, in {_times(disorder['keys'], 'key')}. {why} A "
            "projection that applies events as they come, such as Concert's seat view, may then end on the older "
            "event's state."
        ),
        Table(
            ["group", "key", "handled late", "after", "at (s)"],
            [[e["group"], e["key"], f"{e['type']} {e['event_id']}", f"{e['after_type']} {e['after_event_id']}",
              f"{e['at']:.1f}"] for e in disorder["examples"]],
        ),
    ]
    if disorder["handlings"] > len(disorder["examples"]):
        blocks.append(Paragraph(f"The first {len(disorder['examples'])} shown; summary.json "
                                "(metrics.broker.out_of_order) has the counts per group."))
    return blocks
