"""Replicated services (``services.<name>.replicas``, seed 8.2): how the load balancer spread the
requests, when each consumer group rebalanced and what moved, and the redeliveries rebalancing
caused."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.messaging.membership import REBALANCE
from concertsim.sim.run.result import RunResult

__all__ = ["replicas"]


def replicas(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None when every service runs as one host; else ``load_balancing`` (the policy),
    ``services`` (service -> ``replicas`` count and ``served``: replica -> requests it served),
    ``rebalances`` (one per ``broker.rebalance``: ``at``, ``group``, ``reason``, ``members``,
    ``moved`` partitions, ``moves`` as [topic, partition, from, to], ``lease`` holder) and
    ``redeliveries``: group -> deliveries of an event the group had handled already, on a
    partition a rebalance moved in between (the work the replica that lost the partition did
    without committing it)."""
    counts = {name: spec.replicas for name, spec in result.scenario.services if spec.replicas > 1}
    if not counts:
        return None
    served: dict[str, dict[str, int]] = {
        name: {f"{name}#{index}": 0 for index in range(1, count + 1)} for name, count in counts.items()
    }
    for record in records.get("call.serve", ()):
        replica = record.party
        by_replica = served.get(service_of(replica))
        if by_replica is not None and replica in by_replica:
            by_replica[replica] += 1
    rebalances = [
        {
            "at": record.at, "group": record.data["group"], "reason": record.data["reason"],
            "members": record.data["members"], "moved": len(record.data["moved"]),
            "moves": record.data["moved"], "lease": record.data["lease"],
        }
        for record in records.get(REBALANCE, ())
    ]
    return {
        "load_balancing": result.scenario.network.load_balancing,
        "services": {name: {"replicas": counts[name], "served": served[name]} for name in counts},
        "rebalances": rebalances,
        "redeliveries": _redeliveries_after_rebalance(records),
    }


def _redeliveries_after_rebalance(records: RecordsByKind) -> dict[str, int]:
    """group -> deliveries of an already handled event whose partition moved after the handling."""
    topic_of = {r.data["event_id"]: r.data["topic"] for r in records.get("broker.append", ())}
    moved_at: dict[tuple[str, str, int], list[float]] = {}
    for record in records.get(REBALANCE, ()):
        for topic, partition, _from, _to in record.data["moved"]:
            if _from is not None:
                moved_at.setdefault((record.data["group"], topic, partition), []).append(record.at)
    counts: dict[str, int] = {}
    if not moved_at:
        return counts
    handled_at: dict[tuple[str, str], float] = {}
    for record in records.get("consumer.handled", ()):
        handled_at.setdefault((record.data["group"], record.data["event_id"]), record.at)
    for record in records.get("broker.deliver", ()):
        group, event_id = record.data["group"], record.data["event_id"]
        first = handled_at.get((group, event_id))
        if first is None or first >= record.at:
            continue
        moves = moved_at.get((group, topic_of.get(event_id, ""), record.data["partition"]), ())
        if any(first <= at <= record.at for at in moves):
            counts[group] = counts.get(group, 0) + 1
    return dict(sorted(counts.items()))
