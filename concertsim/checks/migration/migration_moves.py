"""The promises of a migration in motion (seed 9; :mod:`concertsim.sim.run.point_migration`):
while a plan copies Point's data to its new store, shifts users to it, cuts over or rolls back,
no write is lost between the stores, no payment is deducted in both, a user's reads never go back
in time when the user moves, each row has one owner (before and after the cutover), and a rollback
loses nothing.

Each is "not applicable" when no plan ran (no ``migration:``), or when the run never reached the
step it is about (no copy, no user moved, no rollback).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from concertsim.checks.applicability import service_moved
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import plan_steps_of, raised_per_party, seqs
from concertsim.sim.hosting.shift_routing import NEW_POINT, OLD_POINT
from concertsim.sim.infrastructure.storage import DELETED
from concertsim.sim.run.point_migration import KEYED_TABLE, OWNERS_TABLE, WRITES_TABLE
from concertsim.sim.run.point_shift import user_of
from concertsim.sim.run.result import RunResult

__all__ = ["migration_ran", "users_moved", "rolled_back"]

_STORES = {OLD_POINT: "point_old", NEW_POINT: "point_new"}
_NAMES = {OLD_POINT: "the old store", NEW_POINT: "the new store"}


def _steps(result: RunResult, action: str) -> list[Any]:
    return [r for r in plan_steps_of(result, "point") if r.data["action"] == action and r.data["outcome"] == "done"]


def migration_ran(result: RunResult) -> str | None:
    """A plan moving Point ran and copied Point's data to the new store."""
    return service_moved(result, "point", "Point")


def users_moved(result: RunResult) -> str | None:
    """Some user moved to the new store."""
    reason = migration_ran(result)
    if reason is not None:
        return reason
    moved = any(r.data["to"] == NEW_POINT for r in result.trace.of_kind("migration.moved"))
    return None if moved else "no user moved to the new store"


def rolled_back(result: RunResult) -> str | None:
    reason = migration_ran(result)
    if reason is not None:
        return reason
    return None if _steps(result, "rollback") else "the plan never rolled back"


def _last(result: RunResult) -> tuple[int, ...]:
    """The run's last record (it settled there), for a violation the state alone shows."""
    return (len(result.trace) - 1,) if len(result.trace) else ()


def _store(result: RunResult, store: str) -> dict[str, dict[Hashable, Any]]:
    return result.state.get(_STORES[store], {})


def _owner(result: RunResult, store_tables: dict[str, dict[Hashable, Any]], table: str, key: Hashable,
           row: Any) -> str:
    owners = result.state.get("point_migration", {}).get(OWNERS_TABLE, {})
    try:
        user = user_of(store_tables, table, key, row)
    except (KeyError, AttributeError, TypeError, IndexError):
        user = None
    return str(owners.get(user, owners.get(None, OLD_POINT)))


def _unreached(result: RunResult, written_on: str, only_owned_by_other: bool) -> list[tuple[str, Hashable, Any]]:
    """Rows whose last write was made on ``written_on`` that the other store does not hold as
    written (with ``only_owned_by_other``: only rows the other store owns at the end)."""
    other = NEW_POINT if written_on == OLD_POINT else OLD_POINT
    source, target = _store(result, written_on), _store(result, other)
    writes = result.state.get("point_migration", {}).get(WRITES_TABLE, {})
    missing = []
    for (table, key), (store, row) in writes.items():
        if store != written_on:
            continue
        held = target.get(table, {}).get(key, DELETED)
        if held == row or (row is DELETED and held is DELETED):
            continue
        if only_owned_by_other:
            named = row if row is not DELETED else held
            if named is DELETED or _owner(result, source if row is not DELETED else target, table, key,
                                          named) != other:
                continue
        missing.append((table, key, row))
    return missing


def _lost(result: RunResult, written_on: str, invariant_id: str, only_owned_by_other: bool) -> list[Violation]:
    missing = _unreached(result, written_on, only_owned_by_other)
    if not missing:
        return []
    other = NEW_POINT if written_on == OLD_POINT else OLD_POINT
    table, key, row = missing[0]
    copies = [r.seq for r in result.trace.of_kind("point.replicated") if r.party in _NAMES][-3:]
    return [Violation(
        invariant_id,
        f"{len(missing)} write(s) made on {_NAMES[written_on]} never reached {_NAMES[other]}, which owns them "
        f"at the end: first {table}[{key!r}]",
        evidence={"rows": [f"{t}[{k!r}]" for t, k, _ in missing[:10]], "count": len(missing)},
        records=seqs(copies, [r.seq for r in plan_steps_of(result, "point")]) or _last(result),
    )]


@invariant(
    "migration-no-lost-write",
    "convergence",
    "During a migration, every write the old store committed after the copy began reaches the new store "
    "wherever the new store owns the row at the end (a change made during the copy is not lost).",
    applies=migration_ran,
)
def no_lost_write(result: RunResult) -> list[Violation]:
    if result.scenario.migration is None:
        return []
    return _lost(result, OLD_POINT, "migration-no-lost-write", only_owned_by_other=True)


@invariant(
    "migration-rollback-lossless",
    "convergence",
    "After a rollback, every write the new store committed is in the old store.",
    applies=rolled_back,
)
def rollback_lossless(result: RunResult) -> list[Violation]:
    if rolled_back(result) is not None:
        return []
    return _lost(result, NEW_POINT, "migration-rollback-lossless", only_owned_by_other=False)


@invariant(
    "migration-one-owner",
    "safety",
    "Each user's Point rows have one owner at a time: from a user's move on, only the store the user moved to "
    "commits the user's writes (after the cutover, the old store commits none of its own).",
    applies=users_moved,
)
def one_owner(result: RunResult) -> list[Violation]:
    violations = []
    for store in (OLD_POINT, NEW_POINT):
        stray = [r for r in result.trace.of_kind("migration.write") if r.party == store]
        if not stray:
            continue
        users = sorted({user for r in stray for user in r.data["users"]})
        after_cutover = sum(1 for r in stray if r.data["cut_over"])
        violations.append(Violation(
            "migration-one-owner",
            f"{_NAMES[store]} committed {len(stray)} write(s) of user(s) it did not own ({after_cutover} after the "
            f"cutover), first for user(s) {users[:10]}: two stores took writes to their rows",
            at=stray[0].at,
            evidence={"store": store, "users": users[:20], "writes": len(stray), "after_cutover": after_cutover},
            records=seqs([r.seq for r in stray[:5]]),
        ))
    return violations


@invariant(
    "migration-no-double-spend",
    "safety",
    "While users move between Point's stores, no payment's points are deducted in both stores, and no "
    "charge or deduction is applied by both under one idempotency key.",
    applies=users_moved,
)
def no_double_spend(result: RunResult) -> list[Violation]:
    if result.scenario.migration is None:
        return []
    used = raised_per_party(result, ("PointUsedEvent",), parties=_STORES)
    violations = [
        Violation(
            "migration-no-double-spend",
            f"{reservation} was deducted in both Point stores: the user's points were spent twice around a move",
            evidence={"reservation_id": reservation, "stores": sorted(by_store)},
            records=seqs(*by_store.values()),
            saga=reservation,
        )
        for reservation, by_store in sorted(used.items()) if len(by_store) > 1
    ]
    keyed = result.state.get("point_migration", {}).get(KEYED_TABLE, {})
    twice = sorted(str(key) for key, stores in keyed.items() if len(stores) > 1)
    if twice:
        violations.append(Violation(
            "migration-no-double-spend",
            f"{len(twice)} request(s) were applied by both Point stores under one idempotency key, first {twice[0]}: "
            "a retry that crossed a move found the new store without the key the old store had recorded",
            evidence={"idempotency_keys": twice[:10], "count": len(twice)},
            records=seqs([r.seq for r in result.trace.of_kind("migration.moved") if r.data["pending"]][:5])
            or _last(result),
        ))
    return violations


@invariant(
    "migration-reads-monotonic",
    "safety",
    "A user's Point operations never answer from an older version of the account than one the user "
    "was already answered from, when the user moves between stores.",
    applies=users_moved,
)
def reads_monotonic(result: RunResult) -> list[Violation]:
    if result.scenario.migration is None:
        return []
    newest: dict[int, tuple[int, int, str]] = {}
    violations = []
    reported: set[int] = set()
    for record in result.trace.of_kind("migration.read"):
        user, version = record.data["user_id"], record.data["version"]
        seen = newest.get(user)
        if seen is not None and version < seen[0] and user not in reported:
            reported.add(user)
            violations.append(Violation(
                "migration-reads-monotonic",
                f"user {user} was answered from version {version} of the account by {record.party} after "
                f"version {seen[0]} from {seen[2]}: the user's reads went back in time",
                at=record.at,
                evidence={"user_id": user, "version": version, "seen": seen[0], "stores": [seen[2], record.party]},
                records=seqs([seen[1], record.seq]),
            ))
        if seen is None or version >= seen[0]:
            newest[user] = (version, record.seq, record.party)
    return violations
