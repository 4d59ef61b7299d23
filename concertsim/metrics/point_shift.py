"""A gradual traffic shift to the split-out Point (``design.point_shift``, seed 9): how many users
took each path, how many requests the new service served, and how the two stores' change feeds
were applied on the other side."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.sim.hosting.shift_routing import NEW_POINT, OLD_POINT, ShiftRouting
from concertsim.sim.run.result import RunResult

__all__ = ["point_shift"]

_REPLICATE = "point.replicate"


def point_shift(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None without a shift; else ``share_percent``, ``replication`` (the mode), ``users`` and
    ``users_shifted`` (the workload's users whose bucket takes the new path), ``served_by_new``
    (requests the split-out Point served, replication aside), and ``applied``: for each direction
    (``point->point_new``, ``point_new->point``) the ``batches`` and ``changes`` the receiving
    store applied and when it applied the last (``last_at``, None if none)."""
    design = result.scenario.design
    if not design.point_shift:
        return None
    users = result.scenario.workload.users
    served_by_new = sum(
        1 for record in records.get("call.serve", ())
        if record.party == NEW_POINT and record.data["endpoint"] != _REPLICATE
    )
    applied = {
        f"{source}->{target}": {"batches": 0, "changes": 0, "last_at": None}
        for source, target in ((OLD_POINT, NEW_POINT), (NEW_POINT, OLD_POINT))
    }
    for record in records.get("point.replicated", ()):
        direction = applied[f"{record.data['source']}->{record.party}"]
        direction["batches"] += 1
        direction["changes"] += record.data["changes"]
        direction["last_at"] = record.at
    return {
        "share_percent": design.point_shift,
        "replication": design.shift_replication,
        "users": users,
        "users_shifted": len(ShiftRouting(design.point_shift, users).shifted),
        "served_by_new": served_by_new,
        "applied": applied,
    }
