"""The run report's section on a gradual traffic shift to the split-out Point (seed 9): who took
which path, and how far each store's changes reached the other. Nothing is shown without a shift."""

from __future__ import annotations

from typing import Any

from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table
from concertsim.reports.document.formatting import seconds

__all__ = ["point_shift_blocks"]

_REPLICATION = {
    "acked": "each store's changes were shipped to the other in commit order and re-sent until acknowledged",
    "once": "each store's changes were shipped to the other once, not re-sent when lost",
    "none": "no change was shipped between the stores",
}


def point_shift_blocks(metrics: dict[str, Any]) -> list[Block]:
    shift = metrics.get("point_shift")
    if shift is None:
        return []
    rows = [
        [direction.replace("->", " → "), f"{applied['batches']:,}", f"{applied['changes']:,}",
         "-" if applied["last_at"] is None else seconds(applied["last_at"])]
        for direction, applied in shift["applied"].items()
    ]
    return [
        Heading(3, "Traffic shift to the split-out Point"),
        Paragraph(
            f"{shift['share_percent']}% of the buckets took the new path: {shift['users_shifted']:,} of "
            f"{shift['users']:,} users were served by the split-out Point (point_new, its own store), the rest by "
            f"the monolith's Point; the new service answered {shift['served_by_new']:,} requests. "
            f"{_REPLICATION[shift['replication']].capitalize()}. point-stores-agree compares the two stores "
            "once the run has settled."
        ),
        Table(["replication", "batches applied", "changes applied", "last applied at"], rows),
    ]
