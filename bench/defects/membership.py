"""Replicated services (``services.<name>.replicas``): the consumer group's rebalancing, leases and
fencing."""

from __future__ import annotations

from .defect import BOTH, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="rebalance-revoked-owner-not-cleared",
        path="concertsim/sim/messaging/membership.py",
        before="                self.owners[loop.daemon] = None\n",
        after="",
        flows=BOTH,
        why="Revoking a partition from its old owner without clearing the owner on record makes "
        "the assignment that follows believe the partition is still consumed, so after a "
        "stop-the-world rebalance nobody consumes it again (no-lost-events, seat-view-converges).",
        scenario="replicas",
        witness=(),
    ),
)
