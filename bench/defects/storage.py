"""Storage: local transactions, the inbox and the outbox (seed 6.2, 8)."""

from __future__ import annotations

from .defect import Defect, BOTH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="storage-read-for-update-shares-committed-row",
        path="concertsim/sim/infrastructure/storage.py",
        before="        return copy_row(row) if row is not None else None",
        after="        return row",
        flows=BOTH,
        why="Dropping the copy in get_for_update (to save an allocation) lets a transaction mutate "
        "committed rows in place, so a failed, conflicting or crashed transaction keeps its "
        "uncommitted writes (points-ledger-balanced, ranking-converges).",
        witness=(
            faults("{at: 5, kind: commit_failure, target: point, duration: 10, params: {rate: 0.5}}"),
        ),
    ),
    Defect(
        id="storage-conflict-check-only-backwards",
        path="concertsim/sim/infrastructure/storage.py",
        before="            if self.versions.get(address, 0) != version:",
        after="            if self.versions.get(address, 0) < version:",
        flows=BOTH,
        why="Treating only a version that went backwards as a conflict never detects a concurrent "
        "update, so two transactions on one seat or one tally both commit (no-double-booking, "
        "ranking-converges).",
        witness=(
            "seed=1002", "workload.users=20", "workload.flash_window=2", "workload.abandon_probability=0",
            "workload.initial_points=50000",
        ),
    ),
    Defect(
        id="storage-inbox-written-outside-transaction",
        path="concertsim/sim/infrastructure/storage.py",
        before="        self.put(INBOX, (group, event_id), True)",
        after="        self.db.tables.setdefault(INBOX, {})[(group, event_id)] = True",
        flows=BOTH,
        why="Writing the processed-event id straight to the table instead of through the "
        "transaction marks an event handled even when the handling's commit fails or conflicts, "
        "so its retry is skipped as a duplicate and its effect is lost (seat-view-converges, "
        "ranking-converges).",
        witness=(
            faults("{at: 2, kind: commit_failure, target: concert, duration: 10, params: {rate: 0.5}}"),
        ),
    ),
    Defect(
        id="storage-outbox-scan-stops-one-short",
        path="concertsim/sim/infrastructure/storage.py",
        before="        while seq < self.next_outbox_seq and len(rows) < limit:",
        after="        while seq < self.next_outbox_seq - 1 and len(rows) < limit:",
        flows=BOTH,
        why="Reading next_outbox_seq as the last sequence number rather than the next one leaves "
        "the newest outbox row unpublished until another commit follows it, and the last one "
        "forever (no-lost-events).",
        witness=(),
    ),
)
