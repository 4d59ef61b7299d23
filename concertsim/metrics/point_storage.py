"""What Point's way of storing accounts cost (``design.point_storage``): its commits, and with
event sourcing the events replayed to derive balances and the service time that took."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.models import points
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.run.result import RunResult

__all__ = ["point_storage"]


def point_storage(result: RunResult, records: RecordsByKind) -> dict[str, Any]:
    """``mode``; ``commits`` of Point's database; with event sourcing also ``events`` stored,
    ``snapshots``, ``reads`` that derived a balance, ``events_replayed`` by them in all and at
    most (``max_replayed``), and the ``replay_seconds`` of service time that cost."""
    mode = result.scenario.design.point_storage
    commits = sum(1 for r in records.get("tx.commit", ()) if service_of(r.party) == "point")
    summary: dict[str, Any] = {"mode": mode, "commits": commits}
    if mode != "events":
        return summary
    replays = [r.data["events"] for r in records.get("point.replay", ())]
    streams = result.table("point", points.STREAMS)
    summary.update(
        events=sum(1 for (_, version) in streams if version > 0),
        snapshots=len(result.table("point", points.SNAPSHOTS)),
        reads=len(replays),
        events_replayed=sum(replays),
        max_replayed=max(replays, default=0),
        replay_seconds=sum(replays) * result.scenario.storage.replay_seconds_per_event,
    )
    return summary
