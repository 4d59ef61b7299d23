"""Replicated services (``services.<name>.replicas``): the consumer group's rebalancing, leases and
fencing (the coordinator's, and the saga driver id a replicated orchestrator's steps are fenced by)."""

from __future__ import annotations

from .defect import BOTH, ORCHESTRATION, Defect, faults

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
    Defect(
        id="saga-fence-checked-before-the-call",
        path="concertsim/sim/services/orchestrator.py",
        before="        if group.fencing and saga.driver != me:\n",
        after="        if group.fencing and believed.driver != me:\n",
        flows=ORCHESTRATION,
        why="Checking that the replica still drives the saga against the row it read before asking "
        "Point, not in the step's own transaction (the check and the write straddle the pause), lets "
        "a driver frozen past its session and its hold's deadline (a zombie) commit its stale \"no "
        "answer: compensate\" over the saga its adopter confirmed; the zombie then finds the saga "
        "driven by its adopter and stops, and the reopened saga is never finished (sagas-terminate).",
        settings=("services.reservation.replicas=2", "broker.session_timeout=10", "network.call_timeout=2"),
        witness=(
            "design.payment_flow=orchestration",
            faults(
                "{at: 0, kind: drop, target: request, duration: 10, match: {message_type: point.use}},"
                " {at: 9, kind: pause, target: 'reservation#2', duration: 30}"
            ),
        ),
    ),
)
