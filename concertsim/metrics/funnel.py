"""The user funnel: how far the users of a run got, counted once per stage they reached, and where
the users who got no ticket were lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from concertsim.models import queue, reservations
from concertsim.sim.infrastructure.trace import TraceRecord
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.workload import EXIT_REASONS

__all__ = ["funnel", "funnel_losses", "LOSS_REASONS"]

LOSS_REASONS = tuple(reason for reason in EXIT_REASONS if reason != "confirmed") + ("unfinished",)
"""Where a user without a ticket was lost: the reasons a visit ends (``sim.run.workload.EXIT_REASONS``)
but ``confirmed``, and ``unfinished`` (the visit had not ended when the run did)."""


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


def funnel_losses(
    result: RunResult, records: Mapping[str, Iterable[TraceRecord]] | None = None
) -> dict[str, int]:
    """Where the users who got no confirmed reservation were lost, one count per user, by why
    their visit ended (:data:`LOSS_REASONS`, every reason present, in that order): e.g.
    ``left-before-opening`` (out of patience before the sale opened), ``gave-up-waiting`` (in
    line), ``vanished`` (closed the tab), ``token-expired``, ``sold-out``, ``no-seat``,
    ``payment-failed``. A user told "confirmed" whose reservation did not end CONFIRMED counts
    under ``confirmed``. ``records`` is the trace grouped by kind, if already grouped."""
    exits = records.get("client.exit", ()) if records is not None else result.trace.of_kind("client.exit")
    reason_of = {record.data["user"]: record.data["reason"] for record in exits}
    confirmed = {r.user_id for r in result.table("reservation", reservations.RESERVATIONS).values()
                 if r.status == reservations.ReservationStatus.CONFIRMED}
    lost = Counter(reason_of.get(user, "unfinished") for user in range(1, result.counters.get("users", 0) + 1)
                   if user not in confirmed)
    return {**{reason: lost.pop(reason, 0) for reason in LOSS_REASONS}, **dict(sorted(lost.items()))}
