"""``charge-exactly-once``: each charge a client asked for is credited once, or not at all if it
was refused (seed 2 ``POST /points/charge``, seed 4.2.3 idempotency).

The client's history says what was asked (the amount and the request's idempotency key) and what
it was told; Point's ledger says what was credited, each charge entry with the key of the request
that made it. A retry after a lost reply must not credit twice.
"""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.applicability import charge_asked
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import TraceIndex, seqs, trace_index
from concertsim.models import points
from concertsim.sim.run.result import RunResult


@invariant(
    "charge-exactly-once",
    "convergence",
    "Each charge a client asked for is credited exactly once if acknowledged, never if refused, at "
    "most once if its outcome is unknown, with the amount asked; no charge is credited that no "
    "client asked for.",
    applies=charge_asked,
)
def charge_exactly_once(result: RunResult) -> list[Violation]:
    credited: dict[str | None, list[points.LedgerEntry]] = defaultdict(list)
    for entry in result.table("point", points.LEDGER).values():
        if entry.kind == "charge" and not entry.entry_id.startswith(points.OPENING_ENTRY_PREFIX):
            credited[entry.request_key].append(entry)
    violations = []
    asked = set()
    for op in result.history:
        if op.action != "charge":
            continue
        key = op.detail.get("idempotency_key")
        asked.add(key)
        entries = credited.get(key, [])
        allowed = {"ok": (1,), "fail": (0,)}.get(op.outcome or "unknown", (0, 1))
        wrong_amount = [e.entry_id for e in entries if e.amount != op.detail.get("amount")]
        if len(entries) not in allowed or wrong_amount:
            told = op.outcome or "nothing"
            violations.append(
                Violation(
                    "charge-exactly-once",
                    f"charge {op.op_id} of user {op.user_id} for {op.detail.get('amount')} points, "
                    f"told {told}: credited {len(entries)} time(s)"
                    + (f", with another amount in {wrong_amount}" if wrong_amount else ""),
                    at=op.complete_at,
                    evidence={"op": op.to_json(), "entries": sorted(e.entry_id for e in entries)},
                    records=_charge_records(trace_index(result), op.op_id, op.user_id),
                )
            )
    for key, entries in sorted(credited.items(), key=lambda item: str(item[0])):
        if key not in asked:
            violations.append(
                Violation(
                    "charge-exactly-once",
                    f"{len(entries)} charge(s) credited for a request no client made (key {key})",
                    at=min(e.at for e in entries),
                    evidence={"request_key": key, "entries": sorted(e.entry_id for e in entries)},
                    records=seqs(*(trace_index(result).events("user_id", user, "PointChargedEvent")
                                   for user in sorted({e.user_id for e in entries}))),
                )
            )
    return violations


def _charge_records(index: TraceIndex, op_id: str, user_id: int) -> tuple[int, ...]:
    """A charge operation's invocation and outcome, and the user's PointChargedEvents raised by it
    (by its trace) or, for a retried or lost request, under any trace."""
    charged = index.events("user_id", user_id, "PointChargedEvent")
    return seqs(index.client_op(op_id), charged)
