"""``honest-buyer-confirmed``: a buyer who follows the rules gets the seat they paid for (seed 1:
hold a seat, pay with points, the reservation is confirmed), unless a fault that could have
affected their purchase explains why not.

Safety invariants pass a system that refuses everyone; this one does not. It judges every payment
of an honest buyer that no relevant fault can explain, so it must hold under generated faults as
well:

- **an honest buyer**: a ``pay`` operation, however it ended (acknowledged, refused, unknown),
  for a reservation the same user held through the gateway (so with an active token), who had
  at least the price in points when they asked (Point's ledger up to the payment's invocation),
  or who was kept from them: the balance read of the purchase, after which the buyer tops up,
  was not answered (refused, say, ``token-not-active``, or unknown);
- **an unexpired hold**: the payment was invoked at least ``workload.client_timeout`` before the
  hold ran out (a buyer who pays in the last seconds takes the risk of a slow answer);
- **no relevant fault**: no fault that could have affected the purchase, from the hold's
  invocation to the payment's end, by the rule of :mod:`concertsim.checks.fault_relevance`. The
  purchase's parties are the client, the gateway and the services on its path (Queue's token
  check, Reservation, Concert's seat check, Point); its calls the four gateway routes of hold,
  balance, top-up and payment and the endpoints behind them (the token check included, which the
  checkout page's keep-alive requests go through); its events, in the choreography flow,
  PointUsedEvent handled by Reservation. A fault anywhere else excuses nothing.

Such a payment must end with its reservation CONFIRMED.
"""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.checks.fault_relevance import CLIENT, GATEWAY, Operation, fault_scope
from concertsim.checks.money.points_ledger import ledger_order
from concertsim.models import points, reservations
from concertsim.models.events import PointUsed, SeatReserved
from concertsim.models.reservations import ReservationStatus
from concertsim.sim.hosting.gateway import ROUTES
from concertsim.sim.run.history import ClientOp
from concertsim.sim.run.result import RunResult

__all__ = ["honest_payments", "purchase"]

_PURCHASE_ACTIONS = ("hold", "balance", "charge", "pay")
_PURCHASE_ROUTES = frozenset({
    "POST /api/v1/reservations", "GET /api/v1/points/{userId}", "POST /api/v1/points/charge",
    "POST /api/v1/payments",
})
_PURCHASE_ENDPOINTS = frozenset(
    {ROUTES[route].endpoint for route in _PURCHASE_ROUTES}
    | {"queue.check", "concert.check_seat", "point.use", "point.refund"}
)
_PURCHASE_PARTIES = frozenset({CLIENT, GATEWAY, "queue", "reservation", "concert", "point"})


def purchase(result: RunResult, hold: ClientOp, pay: ClientOp) -> Operation:
    """What a purchase (``hold`` ... ``pay``) depends on."""
    events: set[str] = set()
    groups: set[str] = set()
    if result.scenario.design.payment_flow == "choreography":
        events.add(PointUsed.TYPE)
        groups.add("reservation")
    end = pay.complete_at if pay.complete_at is not None else result.phases.ended_at
    return Operation(hold.invoke_at, end, _PURCHASE_PARTIES, _PURCHASE_ENDPOINTS | _PURCHASE_ROUTES,
                     frozenset(events), frozenset(groups))


def _balance_at(entries: list[points.LedgerEntry], at: float) -> int:
    return sum(points.entry_delta(e) for e in entries if e.at <= at)


def honest_payments(result: RunResult) -> list[tuple[ClientOp, ClientOp, reservations.Reservation]]:
    """The (hold op, pay op, reservation) triples the promise judges."""
    return [(hold, pay, reservation) for hold, pay, reservation, excused in _payments(result) if not excused]


def _payments(result: RunResult) -> list[tuple[ClientOp, ClientOp, reservations.Reservation, list[int]]]:
    """Every honest buyer's payment of an unexpired hold, with the faults that excuse it."""
    booked = result.table("reservation", reservations.RESERVATIONS)
    ledgers: dict[int, list[points.LedgerEntry]] = {}
    for entry in result.table("point", points.LEDGER).values():
        ledgers.setdefault(entry.user_id, []).append(entry)
    for entries in ledgers.values():
        entries.sort(key=ledger_order)
    made_by = {}
    for record in result.trace.of_kind("event.raised"):
        if record.data["type"] == SeatReserved.TYPE and record.trace_id:
            made_by.setdefault(record.data["payload"]["reservation_id"], record.trace_id)
    ops = {op.op_id: op for op in result.history}
    by_user: dict[int, list[ClientOp]] = {}
    for op in result.history:
        if op.action in _PURCHASE_ACTIONS:
            by_user.setdefault(op.user_id, []).append(op)
    scope = fault_scope(result)
    margin = result.scenario.workload.client_timeout
    found = []
    for pay in result.history:
        if pay.action != "pay":
            continue
        reservation = booked.get(pay.detail["reservation_id"])
        hold = ops.get(made_by.get(pay.detail["reservation_id"], ""))
        if reservation is None or hold is None or hold.action != "hold" or hold.user_id != pay.user_id:
            continue
        if pay.invoke_at + margin > reservation.hold_expires_at:
            continue
        steps = [op for op in by_user.get(pay.user_id, [])
                 if op.action in ("balance", "charge") and hold.invoke_at < op.invoke_at < pay.invoke_at]
        kept_from_points = any(op.action == "balance" and op.outcome != "ok" for op in steps)
        if not kept_from_points and _balance_at(ledgers.get(pay.user_id, []), pay.invoke_at) < reservation.amount:
            continue
        excused = [w["index"] for w in scope.excusing(purchase(result, hold, pay))]
        found.append((hold, pay, reservation, excused))
    return found


@invariant(
    "honest-buyer-confirmed",
    "convergence",
    "A buyer who held a seat, had the points (or was kept from them) and paid the unexpired hold is "
    "confirmed, unless a fault that could have affected the purchase (its parties, its messages, "
    "its time with a recovery allowance) was in sight.",
    applies=lambda result: None if honest_payments(result) else (
        "no payment could be judged: none was an honest buyer's paying an unexpired hold, out of reach of "
        "every fault that could have affected it"),
)
def honest_buyer_confirmed(result: RunResult) -> list[Violation]:
    violations = []
    elsewhere = sorted(w["index"] for w in result.fault_windows)
    for hold, pay, reservation, excused in _payments(result):
        if excused or reservation.status == ReservationStatus.CONFIRMED:
            continue
        index = trace_index(result)
        violations.append(
            Violation(
                "honest-buyer-confirmed",
                f"user {pay.user_id} paid {reservation.reservation_id} "
                f"{reservation.hold_expires_at - pay.invoke_at:.0f}s "
                f"before its hold ran out, with the points or kept from them, no fault that could touch "
                f"the purchase in sight, and it ended {reservation.status} (the client was told {pay.outcome}"
                + (f": {pay.error})" if pay.error else ")"),
                at=pay.invoke_at,
                evidence={"hold_op": hold.op_id, "pay": pay.to_json(), "status": str(reservation.status),
                          "hold_expires_at": reservation.hold_expires_at,
                          "faults_not_relevant": elsewhere},
                records=seqs(index.client_op(hold.op_id), index.client_op(pay.op_id),
                             index.events("reservation_id", reservation.reservation_id)),
                saga=reservation.reservation_id,
            )
        )
    return violations
