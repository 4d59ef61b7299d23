"""The transactional-outbox relay (seed 6.2): poll, publish in order, await the ack, mark.

One relay runs per service as a background loop of the service's host. It publishes the committed,
unpublished outbox rows in commit order, then marks the acknowledged rows published in one local
transaction. How it publishes is the scenario's choice (``broker.relay_publish``): ``each`` waits
for the broker's acknowledgement of every row before sending the next (one round trip per event,
the simplest relay, whose throughput is one event per round trip); ``batch`` sends up to
``relay_batch`` rows in one produce request with one acknowledgement, as a Kafka producer or
Debezium does. A crash between publishing and marking
leaves the rows unmarked, so they are published again after the restart: duplicates, never loss.
Each start of the loop opens a new producer session (:class:`ProducerSession`), so a broker that
de-duplicates by producer recognises the retries of one run of the loop, not what a restarted relay
publishes again.

A replicated service runs one relay per outbox, on the replica holding the relay lease
(:mod:`concertsim.sim.messaging.membership`), which it holds with a fencing token: a relay that lost its lease
while paused or cut off (a zombie) has its publish and its mark refused (``lease.fenced``) and
stops, with ``design.fencing``; without, they are applied. With ``design.single_relay`` off, every replica runs its own
relay over the shared outbox and they compete for its rows as ``SELECT ... FOR UPDATE SKIP LOCKED``
pollers do (:class:`OutboxClaims`): each takes the first rows no other live relay holds, so while
one relay publishes rows 1-50 another publishes 51-100, and an aggregate's later event can reach the
broker before its earlier one: the outbox's commit order is lost.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.storage import OUTBOX, Database, OutboxRow
from concertsim.sim.messaging.event_broker import EventBroker, ProducerSession

__all__ = ["relay_outbox", "relay_name", "OutboxClaims"]


class OutboxClaims:
    """The outbox rows each competing relay holds, as row locks do: a relay's rows are its own
    until it polls again, and free as soon as its loop has stopped (a crash releases the locks)."""

    def __init__(self) -> None:
        self._holders: dict[int, simpy.Process] = {}

    def take(self, db: Database, limit: int, relay: simpy.Process) -> list[OutboxRow]:
        """Up to ``limit`` unpublished rows, in commit order, that no other live relay holds;
        ``relay`` now holds them (and no longer the rows it held before)."""
        holders = self._holders
        for seq in [s for s, p in holders.items() if p is relay or not p.is_alive]:
            del holders[seq]
        rows = [row for row in db.unpublished(limit + len(holders)) if row.seq not in holders][:limit]
        for row in rows:
            holders[row.seq] = relay
        return rows

    def held_by_others(self, relay: simpy.Process) -> bool:
        return any(p is not relay and p.is_alive for p in self._holders.values())


def _holds_lease(host: Host, what: str, claims: OutboxClaims | None) -> bool:
    """Whether the broker (a publish) or the database (a mark) accepts the relay's fencing token:
    always for a service of one replica, and for relays that compete for rows (``claims``), which
    hold no lease."""
    return host.membership is None or claims is not None or host.membership.holds_lease(host, what)


def relay_name(service: str) -> str:
    return f"relay:{service}"


def relay_outbox(
    host: Host, broker: EventBroker, batch: int, poll_interval: float, publish: str = "each",
    claims: OutboxClaims | None = None,
) -> Generator[simpy.Event, Any, None]:
    """Publish ``host``'s outbox forever; the loop the host restarts after a crash.

    An idle relay sleeps until a commit appends to the outbox; after a failed publish it waits
    ``poll_interval`` and tries again from the first unpublished row. Given ``claims``, it competes
    with the other replicas' relays for the rows (see the module); one that finds every row taken
    polls again after ``poll_interval``, since the rows may come free without a commit.
    """
    db = host.db
    assert db is not None
    env = host.env
    party = relay_name(host.name)
    producer = ProducerSession(host.world, host.name)
    while True:
        rows = db.unpublished(batch) if claims is None else claims.take(db, batch, env.active_process)
        if not rows:
            if claims is not None and claims.held_by_others(env.active_process):
                yield db.outbox_appended | env.timeout(poll_interval)
                continue
            yield db.outbox_appended
            continue
        acknowledged = []
        if publish == "batch":
            yield from host.awake()
            if not _holds_lease(host, "publish", claims):
                return
            acked = yield from broker.publish_batch(producer, [row.event for row in rows])
            acknowledged = [row.seq for row in rows] if acked else []
        else:
            for row in rows:
                yield from host.awake()
                if not _holds_lease(host, "publish", claims):
                    return
                acked = yield from broker.publish(producer, row.event)
                if not acked:
                    break
                acknowledged.append(row.seq)
        yield from host.awake()
        if acknowledged and not _holds_lease(host, "mark", claims):
            return
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
