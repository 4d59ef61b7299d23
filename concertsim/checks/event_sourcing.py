"""``point-replay-consistent``: with event sourcing (``design.point_storage=events``, seed 6.1),
replaying a user's events gives the balance the service uses. Every ledger entry of the user is
in their stream exactly once, and each snapshot equals the replay of the entries it covers, so a
balance read from the latest snapshot equals one replayed from the first event."""

from __future__ import annotations

from collections import Counter, defaultdict

from concertsim.checks.applicability import point_storage_events
from concertsim.checks.base import Violation, invariant
from concertsim.checks.points_ledger import point_events
from concertsim.models import points
from concertsim.sim.result import RunResult

@invariant(
    "point-replay-consistent",
    "safety",
    "With event sourcing, each account's stream holds every one of its ledger entries once, and each "
    "snapshot equals the replay of the events it covers: the live balance is the replayed one.",
    applies=point_storage_events,
)
def point_replay_consistent(result: RunResult) -> list[Violation]:
    streams = result.table("point", points.STREAMS)
    if not streams:
        return []
    ledger = result.table("point", points.LEDGER)
    snapshots = result.table("point", points.SNAPSHOTS)
    by_user: dict[int, set[str]] = defaultdict(set)
    for entry_id, entry in ledger.items():
        by_user[entry.user_id].add(entry_id)
    violations = []
    for user_id in sorted(streams):
        stream = streams[user_id]
        listed = Counter(stream.entries)
        if set(listed) != by_user.get(user_id, set()) or any(n > 1 for n in listed.values()):
            violations.append(Violation(
                "point-replay-consistent",
                f"user {user_id}'s stream lists {len(stream.entries)} events, but the ledger has "
                f"{len(by_user.get(user_id, ()))} of theirs",
                evidence={"user_id": user_id, "missing": sorted(by_user.get(user_id, set()) - set(listed)),
                          "extra": sorted(set(listed) - by_user.get(user_id, set()))},
                records=point_events(result, user_id),
            ))
            continue
        snapshot = snapshots.get(user_id)
        if snapshot is None:
            continue
        deltas = [points.entry_delta(ledger[e]) for e in stream.entries]
        covered = sum(deltas[:snapshot.version])
        if covered != snapshot.balance:
            live, replayed = snapshot.balance + sum(deltas[snapshot.version:]), sum(deltas)
            violations.append(Violation(
                "point-replay-consistent",
                f"user {user_id}'s snapshot at event {snapshot.version} says {snapshot.balance}, but its events "
                f"sum to {covered}: the balance read from it is {live}, the replayed one {replayed}",
                evidence={"user_id": user_id, "snapshot_version": snapshot.version, "snapshot_balance": snapshot.balance,
                          "replayed_balance": covered},
                records=point_events(result, user_id),
            ))
    return violations
