"""``honest-buyer-confirmed``: in fault-free operation, a buyer who follows the rules gets the seat
they paid for (seed 1: hold a seat, pay with points, the reservation is confirmed).

Safety invariants pass a system that refuses everyone; this one does not. It judges only what no
fault can explain, so it must hold under generated faults as well:

- **an honest buyer**: a ``pay`` operation for a reservation the same user held through the
  gateway (so with an active token), who had at least the price in points when they asked
  (Point's ledger up to the payment's invocation);
- **an unexpired hold**: the payment was invoked at least ``workload.client_timeout`` before the
  hold ran out (a buyer who pays in the last seconds takes the risk of a slow answer);
- **fault-free**: from the hold's invocation to the payment's completion no fault was active, and
  every earlier fault's aftermath was over before the hold: after the fault ended (a crashed
  party given its restart time), a sample showed empty outboxes, no consumer lag and no event
  parked in a dead-letter topic (parked events wait for the heal phase's re-drive, and events of
  their key wait behind them).

Such a payment must end with its reservation CONFIRMED.
"""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.checks.points_ledger import ledger_order
from concertsim.models import points, reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.sim.result import RunResult

__all__ = ["clean_since", "honest_payments"]



def clean_since(result: RunResult) -> list[tuple[float, float]]:
    """The fault-free intervals of the run: (from, to) pairs in which no fault was active and no
    earlier fault's aftermath remained (see the module docstring)."""
    heal = result.phases.heal_at
    scenario = result.scenario
    restart = max(
        scenario.broker.restart_time,
        *(getattr(scenario.services, name).restart_time for name in type(scenario.services).model_fields),
    )
    windows = sorted(
        (w["start"], (w["end"] if w.get("end") is not None else heal) + (restart if w["kind"] == "crash" else 0.0))
        for w in result.fault_windows
    )
    drained = [s.at for s in result.samples
               if s.outbox_backlog == 0 and s.consumer_lag == 0 and s.dead_letters == 0]
    intervals: list[tuple[float, float]] = []
    start = 0.0
    for fault_start, fault_end in windows:
        if fault_start > start:
            intervals.append((start, fault_start))
        calm = next((at for at in drained if at >= fault_end), None)
        start = max(start, calm if calm is not None else float("inf"))
    if start < float("inf"):
        intervals.append((start, float("inf")))
    return intervals


def _within(intervals: list[tuple[float, float]], start: float, end: float) -> bool:
    return any(low <= start and end < high for low, high in intervals)


def _balance_at(entries: list[points.LedgerEntry], at: float) -> int:
    return sum(points.entry_delta(e) for e in entries if e.at <= at)


def honest_payments(result: RunResult) -> list[tuple[object, object, reservations.Reservation]]:
    """The (hold op, pay op, reservation) triples the promise judges."""
    booked = result.table("reservation", reservations.RESERVATIONS)
    ledgers: dict[int, list[points.LedgerEntry]] = {}
    for entry in result.table("point", points.LEDGER).values():
        ledgers.setdefault(entry.user_id, []).append(entry)
    for entries in ledgers.values():
        entries.sort(key=ledger_order)
    made_by = {}
    for record in result.trace.of_kind("event.raised"):
        if record.data["type"] == "SeatReservedEvent" and record.trace_id:
            made_by.setdefault(record.data["payload"]["reservation_id"], record.trace_id)
    ops = {op.op_id: op for op in result.history}
    intervals = clean_since(result)
    margin = result.scenario.workload.client_timeout
    judged = []
    for pay in result.history:
        if pay.action != "pay":
            continue
        reservation = booked.get(pay.detail["reservation_id"])
        hold = ops.get(made_by.get(pay.detail["reservation_id"], ""))
        if reservation is None or hold is None or hold.action != "hold" or hold.user_id != pay.user_id:
            continue
        if pay.invoke_at + margin > reservation.hold_expires_at:
            continue
        if _balance_at(ledgers.get(pay.user_id, []), pay.invoke_at) < reservation.amount:
            continue
        end = pay.complete_at if pay.complete_at is not None else result.phases.ended_at
        if _within(intervals, hold.invoke_at, end):
            judged.append((hold, pay, reservation))
    return judged


@invariant(
    "honest-buyer-confirmed",
    "convergence",
    "A buyer who held a seat, had the points and paid the unexpired hold is confirmed, whenever no "
    "fault was active, nor any earlier fault's aftermath left, from the hold to the payment's end.",
    applies=lambda result: None if honest_payments(result) else (
        "no payment could be judged: none was an honest buyer's, paying an unexpired hold with no fault in sight"),
)
def honest_buyer_confirmed(result: RunResult) -> list[Violation]:
    violations = []
    for hold, pay, reservation in honest_payments(result):
        if reservation.status == ReservationStatus.CONFIRMED:
            continue
        index = trace_index(result)
        violations.append(
            Violation(
                "honest-buyer-confirmed",
                f"user {pay.user_id} paid {reservation.reservation_id} {reservation.hold_expires_at - pay.invoke_at:.0f}s "
                f"before its hold ran out, with the points, no fault in sight, and it ended "
                f"{reservation.status} (the client was told {pay.outcome}"
                + (f": {pay.error})" if pay.error else ")"),
                at=pay.invoke_at,
                evidence={"hold_op": hold.op_id, "pay": pay.to_json(), "status": str(reservation.status),
                          "hold_expires_at": reservation.hold_expires_at},
                records=seqs(index.client_op(hold.op_id), index.client_op(pay.op_id),
                             index.events("reservation_id", reservation.reservation_id)),
                saga=reservation.reservation_id,
            )
        )
    return violations
