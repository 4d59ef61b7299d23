"""``point-stores-agree``: while traffic shifts from the monolith's Point to the split-out one, the
two Point stores hold the same accounts (seed 9, the strangler pattern).

Both stores are loaded with every account, and each store's changes are replicated to the other
(:mod:`concertsim.sim.run.point_shift`), so once the run has settled every Point row must be the same
in both: a balance, a ledger entry, a deduction or a tombstone one store has and the other lacks
or holds otherwise is a change the replication lost, and switching all traffic to either store
would lose it. And no payment may be served by both Points (its deduction by one, its refund by
the other): each user's operations take one path. Without a shift there is one store and nothing
to compare.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from concertsim.checks.applicability import point_shifted
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import raised_per_party, seqs, trace_index
from concertsim.sim.run.point_shift import POINT_TABLES, user_of
from concertsim.sim.run.result import RunResult

_POINT_EVENTS = ("PointChargedEvent", "PointUsedEvent", "PointRefundedEvent")


@invariant(
    "point-stores-agree",
    "convergence",
    "During a traffic shift to the split-out Point, once the system has settled the monolith's and "
    "the new service's Point stores hold every account alike: its balance, ledger, deductions and tombstones; "
    "and no payment is served by both.",
    applies=point_shifted,
)
def point_stores_agree(result: RunResult) -> list[Violation]:
    if not result.scenario.design.point_shift:
        return []
    old, new = result.state.get("point_old", {}), result.state.get("point_new", {})
    differing: dict[int | None, list[str]] = {}
    for table in POINT_TABLES:
        old_rows, new_rows = old.get(table, {}), new.get(table, {})
        for key in [*old_rows, *(k for k in new_rows if k not in old_rows)]:
            mine, theirs = old_rows.get(key), new_rows.get(key)
            if mine == theirs:
                continue
            tables = old if mine is not None else new
            user = user_of(tables, table, key, mine if mine is not None else theirs)
            differing.setdefault(user, []).append(f"{table}[{key!r}]: {_said(mine)} in the monolith, "
                                                  f"{_said(theirs)} in the new service")
    index = trace_index(result)
    replicated = [record.seq for record in result.trace.of_kind("point.replicated")]
    violations = _served_twice(result)
    for user, differences in sorted(differing.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        who = f"user {user}" if user is not None else "a refund tombstone"
        violations.append(
            Violation(
                "point-stores-agree",
                f"the Point stores disagree on {who}: {differences[0]}"
                + (f" (and {len(differences) - 1} more rows)" if len(differences) > 1 else ""),
                evidence={"user_id": user, "rows": differences[:5]},
                records=seqs(index.events("user_id", user, *_POINT_EVENTS) if user is not None else (),
                             replicated[-5:], index.phase("phase.settled"))
                or (index.last,),
            )
        )
    return violations


def _served_twice(result: RunResult) -> list[Violation]:
    """A payment whose points both Points moved: the router sent one payment down both paths."""
    by_reservation = raised_per_party(result, _POINT_EVENTS)
    return [
        Violation(
            "point-stores-agree",
            f"{reservation_id} was served by both Points ({', '.join(sorted(served))}): one payment took both paths",
            evidence={"reservation_id": reservation_id, "served_by": sorted(served)},
            records=seqs(*served.values()),
            saga=reservation_id,
        )
        for reservation_id, served in sorted(by_reservation.items()) if len(served) > 1
    ]


def _said(row: Any) -> str:
    return "missing" if row is None else _short(row)


def _short(row: Hashable | Any) -> str:
    text = repr(row)
    return text if len(text) <= 80 else text[:77] + "..."
