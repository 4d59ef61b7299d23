"""The read side: Concert's seat view and sell-out ranking (seed 3.2)."""

from __future__ import annotations

from .defect import Defect, BOTH, RICH, CHOREOGRAPHY, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="concert-release-frees-any-held-seat",
        path="concertsim/models/concert.py",
        before="    elif seat.reservation_id == payload.reservation_id:",
        after="    elif seat.status == SeatStatus.HELD:",
        flows=BOTH,
        why="Freeing any held seat on a release, instead of only the releasing reservation's, lets "
        "a stale ReservationFailedEvent free another buyer's hold in the seat view, which offers "
        "that seat to others until the hold ends (seat-view-converges while it lasts).",
        witness=(
            CHOREOGRAPHY, "workload.arrival=steady", "workload.users=40", "workload.rate_per_second=1",
            faults("{at: 0, kind: delay, target: delivery, match: {message_type: PointUsedEvent}, params: {seconds: 30}}"),
        ),
    ),
    Defect(
        id="concert-sold-out-at-last-arrival",
        path="concertsim/models/concert.py",
        before=(
            "    tally.last_sale_at = max(tally.last_sale_at or payload.confirmed_at, "
            "payload.confirmed_at)"
        ),
        after="    tally.last_sale_at = payload.confirmed_at",
        flows=BOTH,
        why="Taking the last sale to arrive as the last sale made dates a sell-out time that "
        "depends on delivery order across partitions (ranking-converges).",
        witness=(
            *RICH, "workload.users=30",
            faults(
                "{at: 0, kind: delay, target: delivery, params: {seconds: 30},"
                " match: {message_type: ReservationCompletedEvent, group: concert, count: 1}}"
            ),
        ),
    ),
    Defect(
        id="concert-ranking-ordered-by-date",
        path="concertsim/models/concert.py",
        before=(
            "        ((t.date_id, t.sold_out_at - t.opens_at) for t in tallies if t.sold_out_at is not None),\n"
            "        key=lambda entry: (entry[1], entry[0]),"
        ),
        after=(
            "        ((t.date_id, t.sold_out_at - t.opens_at) for t in tallies if t.sold_out_at is not None),\n"
            "        key=lambda entry: (entry[0], entry[1]),"
        ),
        flows=BOTH,
        why="Sorting the fast-sell-out ranking by date id instead of by time to sell out shows the "
        "wrong date first whenever a later date sold out faster (ranking-converges).",
        witness=(*RICH, "workload.users=30", "seed=3"),
    ),
)
