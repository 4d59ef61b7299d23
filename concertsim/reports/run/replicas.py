"""The run report's section on replicated services (seed 8.2): the requests each replica served,
and each rebalance of a consumer group with the partitions it moved, as report blocks. Nothing is
shown for a run in which every service runs as one host."""

from __future__ import annotations

from typing import Any

from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table
from concertsim.scenarios.schema import Scenario

__all__ = ["replica_blocks", "replica_rows"]

_POLICIES = {
    "round_robin": "in turn (round robin)",
    "least_outstanding": "to the replica with the fewest calls awaiting a reply (least outstanding)",
}


def _moves(moves: list[list[Any]]) -> str:
    """``point-events/1 point#2→point#3, ...`` (an unassigned side shows as a dash)."""
    return ", ".join(f"{topic}/{partition} {source or '-'}→{target or '-'}" for topic, partition, source, target in moves)


def replica_rows(scenario: Scenario) -> list[list[str]]:
    """The scenario table's row for replicated services (none when every service runs as one)."""
    counts = [f"{name} × {spec.replicas}" for name, spec in scenario.services if spec.replicas > 1]
    if not counts:
        return []
    policy = scenario.network.load_balancing.replace("_", " ")
    return [["replicas", ", ".join(counts),
             f"behind the load balancer ({policy}); a replica without heartbeats for "
             f"{scenario.broker.session_timeout:g} s leaves its group, which rebalances in "
             f"{scenario.broker.rebalance_time:g} s (design section 8.2)"]]


def replica_blocks(metrics: dict[str, Any]) -> list[Block]:
    replicas = metrics.get("replicas")
    if replicas is None:
        return []
    services = replicas["services"]
    redelivered = replicas["redeliveries"]
    blocks: list[Block] = [
        Heading(3, "Replicas and rebalancing"),
        Paragraph(
            f"Calls to a replicated service went {_POLICIES.get(replicas['load_balancing'], replicas['load_balancing'])}, "
            "skipping for a while a replica that let a call time out. Each service's relay and jobs ran on the "
            "replica holding its lease; its consumer group's partitions were spread over the replicas up."
        ),
        Table(
            ["service", "replica", "requests served", "share"],
            [
                [service, replica, str(count), f"{count / total:.0%}" if total else "-"]
                for service, entry in services.items()
                for total in [sum(entry["served"].values())]
                for replica, count in entry["served"].items()
            ],
        ),
    ]
    changes = [r for r in replicas["rebalances"] if r["reason"] != "start"]
    if not changes:
        blocks.append(Paragraph("No consumer group rebalanced after the first assignment."))
        return blocks
    blocks += [
        Paragraph(
            "Rebalances after the first assignment: a replica leaves its group when it has sent no heartbeat "
            "for broker.session_timeout seconds (crashed, paused or cut off), and joins again when it restarts "
            "or finds out; the partitions it held are read from the group's committed offsets by their new owner."
        ),
        Table(
            ["at (s)", "group", "why", "members after", "partitions moved", "lease holder"],
            [
                [f"{r['at']:.1f}", r["group"], r["reason"], ", ".join(r["members"]) or "none",
                 f"{r['moved']}: {_moves(r['moves'])}" if r["moves"] else "0", r["lease"] or "none"]
                for r in changes
            ],
        ),
        Paragraph(
            "Events delivered again after a rebalance, having been handled before it by the replica that lost "
            "their partition without committing: "
            + (", ".join(f"{group} {count}" for group, count in redelivered.items()) if redelivered else "none")
            + " (with design.consumer_dedup on, the inbox skips them; off, they are applied again)."
        ),
    ]
    return blocks
