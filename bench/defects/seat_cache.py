"""Concert's seat cache (seed 3.2: "invalidates its cache"), with event-driven invalidation."""

from __future__ import annotations

from .defect import BOTH, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="seat-cache-invalidates-versioned-only",
        path="concertsim/models/concert.py",
        before='        if self.mode != "ttl":\n            self.listings.pop(date_id, None)',
        after='        if self.mode == "versioned":\n            self.listings.pop(date_id, None)',
        flows=BOTH,
        why="Dropping a date's listing only in the versioned mode leaves the event-invalidated cache "
        "without invalidation: a listing is served until its ttl, showing free the seats taken "
        "meanwhile, though their invalidation came after it was stored (seat-cache-bounded).",
        scenario="seat-cache",
        settings=("seat_cache.mode=invalidated",),
    ),
)
