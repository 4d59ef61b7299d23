"""The traffic shift to the split-out Point (``design.point_shift``, seed 9): routing by user and the
replication of each store's changes to the other."""

from __future__ import annotations

from .defect import SYNC, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="shift-feed-skips-one-change-per-batch",
        path="concertsim/sim/run/point_shift.py",
        before="            batch = self.entries[self.shipped:self.shipped + _BATCH]",
        after="            batch = self.entries[self.shipped + 1:self.shipped + 1 + _BATCH]",
        flows=SYNC,
        why="Reading the count of changes shipped as the index of the last one shipped (change "
        "number n is entry n - 1) starts each batch one change late, so the other store never "
        "sees one change of every batch and the two Points disagree about the users they share "
        "(point-stores-agree).",
        scenario="point-shift",
        witness=(),
    ),
    Defect(
        id="shift-feed-echoes-replicated-writes",
        path="concertsim/sim/run/point_shift.py",
        before="        if isinstance(tx, ReplicaWrite) or not self.capturing:\n",
        after="        if not self.capturing:\n",
        flows=SYNC,
        why="A change feed that does not skip the writes it applied from the other store ships "
        "them back (the replication loop of two-way replication): batches echo between the "
        "stores for ever and an older copy of a row can overwrite a newer one "
        "(points-ledger-balanced, sagas-terminate).",
        scenario="point-shift",
        witness=(),
    ),
)
