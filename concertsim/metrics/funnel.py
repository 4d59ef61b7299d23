"""The user funnel: how far the users of a run got, counted once per stage they reached."""

from __future__ import annotations

from concertsim.models import queue, reservations
from concertsim.sim.result import RunResult

__all__ = ["funnel"]


def funnel(result: RunResult) -> dict[str, int]:
    """How far the users got, each counted once at every stage they reached: ``arrived``;
    ``admitted`` (their queue token was activated); ``held`` (a reservation was made for them);
    ``paid`` (they asked to pay); ``confirmed`` (a reservation of theirs ended CONFIRMED);
    ``abandoned`` (held a seat and never asked to pay); and ``unsold_seats``, the seats not sold
    when the run ended (Reservation's seats)."""
    admitted = {t.user_id for t in result.table("queue", queue.TOKENS).values() if t.activated_at is not None}
    booked = result.table("reservation", reservations.RESERVATIONS).values()
    held = {r.user_id for r in booked}
    confirmed = {r.user_id for r in booked if r.status == reservations.ReservationStatus.CONFIRMED}
    paid = {op.user_id for op in result.history if op.action == "pay"}
    unsold = sum(1 for seat in result.table("reservation", reservations.SEATS).values()
                 if seat.status != reservations.SeatStatus.SOLD)
    return {
        "arrived": result.counters.get("users", 0),
        "admitted": len(admitted),
        "held": len(held),
        "paid": len(paid),
        "confirmed": len(confirmed),
        "abandoned": len(held - paid),
        "unsold_seats": unsold,
    }
