"""The promise of Queue's move out of the monolith (seed 9, the second stage;
:mod:`concertsim.sim.run.queue_migration`): while users wait, the waiting line moves to its new
store whole. No token a store issued is lost, no place in line is given to two tokens, and every
token still waiting keeps its place.

"Not applicable" when no plan moved Queue, or when its plan never copied Queue's data.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from concertsim.checks.applicability import service_moved
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import plan_steps_of, seqs
from concertsim.models import queue
from concertsim.sim.run.queue_migration import ISSUED_TABLE, NEW_QUEUE, OLD_QUEUE, OWNER_TABLE
from concertsim.sim.run.result import RunResult

__all__ = ["queue_moved"]

_NAMES = {OLD_QUEUE: "the old store", NEW_QUEUE: "the new store"}


def queue_moved(result: RunResult) -> str | None:
    """A plan moving Queue ran and copied its data."""
    return service_moved(result, "queue", "Queue")


@invariant(
    "migration-queue-tokens-kept",
    "safety",
    "While Queue's waiting line moves to its new store, every token either store issued is in the store "
    "that owns the line at the end, no two tokens share a place in line, and each token still waiting "
    "keeps its place.",
    applies=queue_moved,
)
def queue_tokens_kept(result: RunResult) -> list[Violation]:
    moved: dict[str, dict[Hashable, Any]] = result.state.get("queue_migration", {})
    if not moved:
        return []
    issued: dict[Hashable, tuple[str, int]] = moved.get(ISSUED_TABLE, {})
    owner = str(moved.get(OWNER_TABLE, {}).get(None, OLD_QUEUE))
    line = result.state.get(OLD_QUEUE, {})
    tokens, waiting = line.get(queue.TOKENS, {}), line.get(queue.WAITING, {})
    steps = [r.seq for r in plan_steps_of(result, "queue")]
    strays = [r.seq for r in result.trace.of_kind("migration.write") if r.party in _NAMES][:5]
    last = (len(result.trace) - 1,) if len(result.trace) else ()
    violations = []

    lost = sorted((token_id for token_id in issued if token_id not in tokens), key=lambda t: issued[t][1])
    if lost:
        store, place = issued[lost[0]]
        violations.append(Violation(
            "migration-queue-tokens-kept",
            f"{len(lost)} token(s) issued during the move are not in {_NAMES.get(owner, owner)}, which owns the "
            f"line at the end: first {lost[0]} (place {place}, issued by {_NAMES.get(store, store)})",
            evidence={"lost": lost[:10], "count": len(lost), "owner": owner,
                      "issued_by": {str(t): issued[t][0] for t in lost[:10]}},
            records=seqs(strays, steps) or last,
        ))

    holders: dict[int, list[str]] = {}
    for token_id, (_, place) in sorted(issued.items(), key=lambda item: str(item[0])):
        holders.setdefault(place, []).append(str(token_id))
    for token_id, token in sorted(tokens.items(), key=lambda item: str(item[0])):
        if str(token_id) not in holders.get(token.seq, []):
            holders.setdefault(token.seq, []).append(str(token_id))
    shared = {place: ids for place, ids in sorted(holders.items()) if len(ids) > 1}
    if shared:
        place, ids = next(iter(shared.items()))
        violations.append(Violation(
            "migration-queue-tokens-kept",
            f"{len(shared)} place(s) in line given to two tokens across the move: first place {place}, to "
            f"{' and '.join(ids)}",
            evidence={"places": {str(p): i for p, i in list(shared.items())[:10]}, "count": len(shared)},
            records=seqs(strays, steps) or last,
        ))

    unplaced = sorted((t for t in tokens.values()
                       if t.status == queue.TokenStatus.WAITING and waiting.get(t.seq) != t.token_id),
                      key=lambda t: t.seq)
    if unplaced:
        token = unplaced[0]
        violations.append(Violation(
            "migration-queue-tokens-kept",
            f"{len(unplaced)} waiting token(s) lost their place in line across the move: first {token.token_id} "
            f"of user {token.user_id} (place {token.seq})",
            evidence={"tokens": [t.token_id for t in unplaced[:10]], "count": len(unplaced)},
            records=seqs(steps) or last,
        ))
    return violations
