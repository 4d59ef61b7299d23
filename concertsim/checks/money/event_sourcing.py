"""``point-replay-consistent``: with event sourcing (``design.point_storage=events``, seed 6.1),
replaying a user's stream gives the state the service decides on. The stream holds its versions
from 1 without a gap and every ledger entry of the user exactly once; each snapshot equals the
replay of the entries it covers, so a balance read from the latest snapshot equals one replayed
from the first event; and the deductions projection (``uses``, with their refunds) equals what
the stream alone rebuilds: every deduction and every refund is an event of its user's stream, and
the indexes by idempotency key and by reservation name what the events say."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable
from typing import Any

from concertsim.checks.applicability import point_storage_events
from concertsim.checks.base import Violation, invariant
from concertsim.checks.money.points_ledger import point_events
from concertsim.models import points
from concertsim.models.store import MemoryStore
from concertsim.sim.run.result import RunResult

_ID = "point-replay-consistent"


def _stream_positions(streams: dict[Hashable, Any]) -> dict[int, dict[int, str]]:
    """user -> version -> entry id, of every committed stream row past version 0."""
    by_user: dict[int, dict[int, str]] = defaultdict(dict)
    for key, entry_id in streams.items():
        user_id, version = key  # type: ignore[misc]
        if version > 0:
            by_user[user_id][version] = entry_id
    return by_user


def _use_fields(use: points.PointUse) -> tuple[Any, ...]:
    return (use.user_id, use.reservation_id, use.amount, use.idempotency_key, use.used_at, use.refunded_at)


@invariant(
    _ID,
    "safety",
    "With event sourcing, each account's stream holds every one of its ledger entries once at versions "
    "without a gap, each snapshot equals the replay of the events it covers (the live balance is the "
    "replayed one), and the deductions and their refunds are what the stream alone rebuilds.",
    applies=point_storage_events,
)
def point_replay_consistent(result: RunResult) -> list[Violation]:
    streams = result.table("point", points.STREAMS)
    if not streams:
        return []
    ledger = result.table("point", points.LEDGER)
    snapshots = result.table("point", points.SNAPSHOTS)
    uses = result.table("point", points.USES)
    store = MemoryStore()
    store.tables = {points.STREAMS: dict(streams), points.LEDGER: dict(ledger)}
    by_user: dict[int, set[str]] = defaultdict(set)
    for entry_id, entry in ledger.items():
        by_user[entry.user_id].add(entry_id)
    projected: dict[int, dict[str, points.PointUse]] = defaultdict(dict)
    for use_id, use in uses.items():
        projected[use.user_id][use_id] = use
    positions = _stream_positions(streams)
    violations = []
    for user_id in sorted({key[0] for key in streams}):  # type: ignore[index]
        at = positions.get(user_id, {})
        entries = [at[v] for v in range(1, len(at) + 1) if v in at]
        listed = Counter(entries)
        if (len(entries) != len(at) or set(listed) != by_user.get(user_id, set())
                or any(n > 1 for n in listed.values())):
            violations.append(Violation(
                _ID,
                f"user {user_id}'s stream lists {len(at)} events at versions "
                f"{'1..' + str(len(at)) if len(entries) == len(at) else 'with a gap'}, but the ledger has "
                f"{len(by_user.get(user_id, ()))} of theirs",
                evidence={"user_id": user_id, "missing": sorted(by_user.get(user_id, set()) - set(listed)),
                          "extra": sorted(set(listed) - by_user.get(user_id, set())),
                          "versions": sorted(at)},
                records=point_events(result, user_id),
            ))
            continue
        snapshot = snapshots.get(user_id)
        if snapshot is not None:
            deltas = [points.entry_delta(ledger[e]) for e in entries]
            covered = sum(deltas[:snapshot.version])
            if covered != snapshot.balance:
                live, replayed = snapshot.balance + sum(deltas[snapshot.version:]), sum(deltas)
                violations.append(Violation(
                    _ID,
                    f"user {user_id}'s snapshot at event {snapshot.version} says {snapshot.balance}, but its events "
                    f"sum to {covered}: the balance read from it is {live}, the replayed one {replayed}",
                    evidence={"user_id": user_id, "snapshot_version": snapshot.version,
                              "snapshot_balance": snapshot.balance, "replayed_balance": covered},
                    records=point_events(result, user_id),
                ))
        rebuilt = points.rebuild_uses(store, user_id)
        kept = projected.get(user_id, {})
        differing = sorted(use_id for use_id in set(rebuilt) | set(kept)
                           if use_id not in rebuilt or use_id not in kept
                           or _use_fields(rebuilt[use_id]) != _use_fields(kept[use_id]))
        if differing:
            first = differing[0]
            said = kept.get(first)
            sourced = rebuilt.get(first)
            violations.append(Violation(
                _ID,
                f"user {user_id}'s deductions are not what their stream rebuilds: {first} is "
                f"{_describe(said)} in the projection but {_describe(sourced)} by the events",
                evidence={"user_id": user_id, "differing": differing},
                records=point_events(result, user_id),
            ))
    violations.extend(_indexes_disagreeing(result, store, sorted({key[0] for key in streams})))  # type: ignore[index]
    return violations


def _indexes_disagreeing(result: RunResult, store: MemoryStore, users: list[int]) -> list[Violation]:
    """The key and reservation indexes of event-sourced accounts that say what no event says: a
    deduction key naming a deduction with another key, a charge key naming an entry made with
    another, a reservation listing other deductions than its events."""
    streamed = set(users)
    rebuilt = {use_id: use for user_id in users for use_id, use in points.rebuild_uses(store, user_id).items()}
    ledger = result.table("point", points.LEDGER)
    uses = result.table("point", points.USES)
    by_reservation: dict[str, set[str]] = defaultdict(set)
    for use_id, use in rebuilt.items():
        by_reservation[use.reservation_id].add(use_id)

    def user_of_use(use_id: str) -> int | None:
        use = rebuilt.get(use_id) or uses.get(use_id)
        return use.user_id if use is not None else None

    wrong: list[tuple[int | None, str, Hashable, Any]] = []
    for key, use_id in result.table("point", points.USES_BY_KEY).items():
        if use_id not in rebuilt or rebuilt[use_id].idempotency_key != key:
            wrong.append((user_of_use(use_id), points.USES_BY_KEY, key, use_id))
    for key, entry_id in result.table("point", points.CHARGES_BY_KEY).items():
        if entry_id not in ledger or ledger[entry_id].request_key != key:
            wrong.append((ledger[entry_id].user_id if entry_id in ledger else None, points.CHARGES_BY_KEY, key, entry_id))
    indexed = result.table("point", points.USES_BY_RESERVATION)
    for reservation_id in sorted(set(indexed) | set(by_reservation)):
        listed = indexed.get(reservation_id, ())
        if set(listed) != by_reservation.get(reservation_id, set()):
            named = [*listed, *sorted(by_reservation.get(reservation_id, ()))]
            wrong.append((user_of_use(named[0]), points.USES_BY_RESERVATION, reservation_id, listed))
    wrong = [row for row in wrong if row[0] is None or row[0] in streamed]
    if not wrong:
        return []
    user_id, table, key, row = wrong[0]
    return [Violation(
        _ID,
        f"{len(wrong)} index rows say what no event says: {table}[{key!r}] = {row!r}",
        evidence={"rows": [{"table": t, "key": repr(k), "row": repr(r)} for _, t, k, r in wrong[:20]]},
        records=point_events(result, user_id) if user_id is not None else (),
    )]


def _describe(use: points.PointUse | None) -> str:
    if use is None:
        return "absent"
    return f"refunded at {use.refunded_at}" if use.refunded_at is not None else "not refunded"
