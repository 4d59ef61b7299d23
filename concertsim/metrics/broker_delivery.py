"""How the broker delivered (``broker.kind``): messages it took back and delivered again, the
retries it delayed, the dead letters, and the events each group handled out of publishing order.

- ``redeliveries``: unacknowledged messages a RabbitMQ-like queue took back when a consumer's
  channel closed (``queue.redelivered``), by ``reason`` (consumer stopped, delivery or
  acknowledgement lost, broker crashed); 0 in Kafka mode, whose consumers re-read from an offset.
- ``requeues``: failed handlings a queue put in its delay queue for another attempt (nacks).
- ``dead_letters``: events parked in a dead-letter topic or exchange (``broker.dead_letter``).
- ``lost_deliveries`` / ``lost_acks``: deliveries and acknowledgements the network lost.
- ``out_of_order``: handlings of an event after the same group had handled a later event of the
  same key from the same publisher (publishing order: the event's first append); ``keys`` counts
  the (group, key) pairs this happened to, ``by_group`` the handlings per group, and ``examples``
  the first few. Kafka mode keeps a key's order unless retries go through a retry topic, a fault
  reorders deliveries or events are partitioned at random; a queue with competing consumers does
  not keep it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from concertsim.metrics.records import RecordsByKind, in_trace_order
from concertsim.sim.run.result import RunResult

__all__ = ["broker_delivery", "EXAMPLES"]

EXAMPLES = 5
"""How many out-of-order handlings ``examples`` lists."""


def broker_delivery(result: RunResult, records: RecordsByKind) -> dict[str, Any]:
    """The broker's kind (with a queue's consumers and whether one is active at a time, None in Kafka
    mode) and the counts above (JSON-ready)."""
    spec = result.scenario.broker
    reasons = Counter(r.data["reason"] for r in records.get("queue.redelivered", ()))
    queues = spec.kind == "rabbitmq"
    return {
        "kind": spec.kind,
        "consumers_per_queue": (spec.consumers_per_queue or spec.partitions) if queues else None,
        "single_active_consumer": spec.single_active_consumer if queues else None,
        "redeliveries": sum(reasons.values()),
        "redelivered_by_reason": dict(sorted(reasons.items())),
        "requeues": len(records.get("queue.requeued", ())),
        "dead_letters": len(records.get("broker.dead_letter", ())),
        "lost_deliveries": len(records.get("broker.delivery_lost", ())),
        "lost_acks": len(records.get("consumer.ack_lost", ())),
        "out_of_order": out_of_order(records),
    }


def out_of_order(records: RecordsByKind) -> dict[str, Any]:
    """The out-of-order handlings of the module docstring: ``handlings``, ``keys``, ``by_group``
    and ``examples`` (group, key, the event handled late and the later one handled before it)."""
    published: dict[str, tuple[int, str, str, str]] = {}  # event id -> (position, topic, key, type)
    latest: dict[tuple[str, str, str], tuple[int, str, str]] = {}  # (group, topic, key) -> latest handled
    by_group: Counter[str] = Counter()
    keys: set[tuple[str, str, str]] = set()
    examples: list[dict[str, Any]] = []
    for record in in_trace_order(records, "broker.append", "consumer.handled"):
        data = record.data
        event_id = data["event_id"]
        if record.kind == "broker.append":
            if event_id not in published:
                published[event_id] = (len(published), data["topic"], data["key"], data["type"])
            continue
        if event_id not in published:
            continue  # handled without a publish of record (a re-drive of an event parked earlier)
        position, topic, key, event_type = published[event_id]
        address = (data["group"], topic, key)
        before = latest.get(address)
        if before is None or position > before[0]:
            latest[address] = (position, event_id, event_type)
            continue
        if position == before[0]:
            continue
        by_group[data["group"]] += 1
        keys.add(address)
        if len(examples) < EXAMPLES:
            examples.append({"group": data["group"], "key": key, "event_id": event_id, "type": event_type,
                             "after_event_id": before[1], "after_type": before[2], "at": record.at})
    return {"handlings": sum(by_group.values()), "keys": len(keys), "by_group": dict(sorted(by_group.items())),
            "examples": examples}
