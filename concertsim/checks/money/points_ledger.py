"""Safety of the Point service's money: balances never negative, ledger balanced, no double refund."""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.applicability import refund_made
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.models import points
from concertsim.sim.run.result import RunResult

__all__ = ["ledger_order", "point_events"]


def ledger_order(entry: points.LedgerEntry) -> tuple[int, int]:
    """Commit order of a user's ledger entries: the opening balance first, then by id number
    (ids are drawn in the order transactions run, and the account row serializes a user's)."""
    opening = entry.entry_id.startswith(points.OPENING_ENTRY_PREFIX)
    return (0 if opening else 1, int(entry.entry_id.rsplit("-", 1)[1]))


def _entries_by_user(result: RunResult) -> dict[int, list[points.LedgerEntry]]:
    by_user: dict[int, list[points.LedgerEntry]] = defaultdict(list)
    for entry in result.table("point", points.LEDGER).values():
        by_user[entry.user_id].append(entry)
    for entries in by_user.values():
        entries.sort(key=ledger_order)
    return by_user




@invariant("points-never-negative", "safety", "No user's point balance is ever below zero.")
def points_never_negative(result: RunResult) -> list[Violation]:
    violations = []
    for user_id, entries in sorted(_entries_by_user(result).items()):
        running = 0
        for entry in entries:
            running += points.entry_delta(entry)
            if running < 0:
                violations.append(
                    Violation(
                        "points-never-negative",
                        f"user {user_id}'s balance fell to {running} at {entry.entry_id}",
                        at=entry.at,
                        evidence={"user_id": user_id, "entry_id": entry.entry_id, "balance": running},
                        records=point_events(result, user_id, until=entry.use_id),
                    )
                )
                break
    return violations


@invariant(
    "points-ledger-balanced",
    "safety",
    "Every balance equals its user's charges minus uses plus refunds in the ledger.",
)
def points_ledger_balanced(result: RunResult) -> list[Violation]:
    by_user = _entries_by_user(result)
    violations = []
    for user_id, account in sorted(result.table("point", points.ACCOUNTS).items()):
        ledger = sum(points.entry_delta(e) for e in by_user.get(user_id, []))
        if ledger != account.balance:
            violations.append(
                Violation(
                    "points-ledger-balanced",
                    f"user {user_id}: balance {account.balance} but the ledger sums to {ledger}",
                    evidence={"user_id": user_id, "balance": account.balance, "ledger": ledger},
                    records=point_events(result, user_id),
                )
            )
    return violations


@invariant("no-double-refund", "safety", "No deduction is refunded more than once.", applies=refund_made)
def no_double_refund(result: RunResult) -> list[Violation]:
    refunds: dict[str, list[points.LedgerEntry]] = defaultdict(list)
    for entry in result.table("point", points.LEDGER).values():
        if entry.kind == "refund":
            refunds[entry.use_id or ""].append(entry)
    uses = result.table("point", points.USES)
    violations = []
    for use_id, entries in sorted(refunds.items()):
        if len(entries) > 1 or use_id not in uses:
            reason = "refunded twice" if len(entries) > 1 else "refunded but never deducted"
            violations.append(
                Violation(
                    "no-double-refund",
                    f"deduction {use_id} {reason} ({len(entries)} refunds)",
                    at=max(e.at for e in entries),
                    evidence={"use_id": use_id, "refunds": sorted(e.entry_id for e in entries),
                              "reservation_id": entries[0].reservation_id},
                    records=seqs(trace_index(result).events("use_id", use_id)),
                )
            )
    return violations


_POINT_EVENTS = ("PointChargedEvent", "PointUsedEvent", "PointRefundedEvent")


def point_events(result: RunResult, user_id: int, until: str | None = None) -> tuple[int, ...]:
    """The events of the user's ledger entries (charges, deductions, refunds) in commit order;
    with ``until``, only up to that deduction's or refund's event, if it has one."""
    index = trace_index(result)
    found = seqs(index.events("user_id", user_id, *_POINT_EVENTS))
    if until is not None:
        last = max(index.events("use_id", until), default=None)
        if last is not None:
            found = tuple(seq for seq in found if seq <= last)
    return found
