"""Schema evolution of events (seed 6.3): how each version is written, resolved and read."""

from __future__ import annotations

from .defect import BOTH, Defect

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="schema-seat-split-zero-based",
        path="concertsim/models/schemas.py",
        before="    row, in_row = divmod(seat_no - 1, SEATS_PER_ROW)",
        after="    row, in_row = divmod(seat_no, SEATS_PER_ROW)",
        flows=BOTH,
        why="Splitting a 1-based seat number into row and place as if it were 0-based writes the "
        "last seat of each row as the first of the next row in version 2 records, so a reader "
        "applies SeatReservedEvent to another seat than the producer meant "
        "(events-read-as-written, seat-view-converges).",
        scenario="rolling-upgrade",
        witness=(),
    ),
)
