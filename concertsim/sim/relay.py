"""The transactional-outbox relay (seed 6.2): poll, publish in order, await the ack, mark.

One relay runs per service as a background loop of the service's host. It publishes the committed,
unpublished outbox rows in commit order, then marks the acknowledged rows published in one local
transaction. How it publishes is the scenario's choice (``broker.relay_publish``): ``each`` waits
for the broker's acknowledgement of every row before sending the next (one round trip per event,
the simplest relay, whose throughput is one event per round trip); ``batch`` sends up to
``relay_batch`` rows in one produce request with one acknowledgement, as a Kafka producer or
Debezium does. A crash between publishing and marking
leaves the rows unmarked, so they are published again after the restart: duplicates, never loss.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.sim.event_broker import EventBroker
from concertsim.sim.host import Host
from concertsim.sim.storage import OUTBOX

__all__ = ["relay_outbox", "relay_name"]


def relay_name(service: str) -> str:
    return f"relay:{service}"


def relay_outbox(
    host: Host, broker: EventBroker, batch: int, poll_interval: float, publish: str = "each"
) -> Generator[simpy.Event, Any, None]:
    """Publish ``host``'s outbox forever; the loop the host restarts after a crash.

    An idle relay sleeps until a commit appends to the outbox; after a failed publish it waits
    ``poll_interval`` and tries again from the first unpublished row.
    """
    db = host.db
    assert db is not None
    env = host.env
    party = relay_name(host.name)
    while True:
        rows = db.unpublished(batch)
        if not rows:
            yield db.outbox_appended
            continue
        acknowledged = []
        if publish == "batch":
            acked = yield from broker.publish_batch(host.name, [row.event for row in rows])
            acknowledged = [row.seq for row in rows] if acked else []
        else:
            for row in rows:
                acked = yield from broker.publish(host.name, row.event)
                if not acked:
                    break
                acknowledged.append(row.seq)
        if acknowledged:
            tx = db.begin()
            for seq in acknowledged:
                row = tx.get_for_update(OUTBOX, seq)
                row.published = True
                tx.put(OUTBOX, seq, row)
            try:
                yield from db.commit(tx)
            except Exception as failure:  # noqa: BLE001 - any commit failure: republish later
                host.world.record("relay.mark_failed", party, reason=type(failure).__name__)
            else:
                host.world.record("relay.marked", party, seqs=acknowledged)
        if len(acknowledged) < len(rows):
            yield env.timeout(poll_interval)
