"""Point's event-sourced accounts (``design.point_storage: events``): streams, snapshots and replay."""

from __future__ import annotations

from .defect import BOTH, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="snapshot-replay-reads-stream-from-start",
        path="concertsim/models/points.py",
        before="    start, total = (snapshot.version, snapshot.balance) if snapshot is not None else (0, 0)",
        after="    start, total = (0, snapshot.balance) if snapshot is not None else (0, 0)",
        flows=BOTH,
        why="Starting from a snapshot's balance but reading the stream from its first event, not "
        "from the snapshot's version, counts every event before the snapshot twice, so a replayed "
        "balance disagrees with the stream (point-replay-consistent) and payments are judged "
        "against points the user does not have.",
        scenario="event-sourced-point",
        witness=("storage.point_snapshot_every=1",),
    ),
)
