"""Write conflicts: how often a transaction found a row it read for update changed by another
commit, and had to be run again (``tx.conflict`` records; ``storage.conflict_retries`` re-runs at
most, then the request answers "unavailable").

Counted in total, per database (the service that owns it, replicas together), per unit of work (the
transaction's label: an endpoint such as ``queue.issue_token`` or a handling such as
``queue<-ReservationCompletedEvent``), and beside each database its commits, so a hot spot shows
as a share. A conflict record that names the row it met (``table`` and ``row`` in its data) is
counted per table and per row as well; a trace whose records do not name it leaves ``by_table``
and ``hot_rows`` None rather than guessing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.sim.infrastructure.parties import service_of

__all__ = ["write_conflicts", "HOT_ROWS"]

HOT_ROWS = 10
"""The most rows ``hot_rows`` lists, most conflicted first."""


def _ranked(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def write_conflicts(records: RecordsByKind) -> dict[str, Any]:
    """``total``; ``by_database`` (service -> conflicts, ``commits`` and the conflicts' ``share``
    of attempts, most conflicted first); ``by_work`` (label -> conflicts, most first);
    ``by_table`` ("service.table" -> conflicts) and ``hot_rows`` (up to :data:`HOT_ROWS` of
    [service, table, row, conflicts], most first), both None unless every conflict names its row."""
    conflicts = list(records.get("tx.conflict", ()))
    by_database: Counter[str] = Counter(service_of(r.party) for r in conflicts)
    commits: Counter[str] = Counter(service_of(r.party) for r in records.get("tx.commit", ()))
    by_work: Counter[str] = Counter(str(r.data.get("label") or "-") for r in conflicts)
    named = bool(conflicts) and all("table" in r.data and "row" in r.data for r in conflicts)
    by_table: dict[str, int] | None = None
    hot_rows: list[list[Any]] | None = None
    if named:
        tables: Counter[str] = Counter(f"{service_of(r.party)}.{r.data['table']}" for r in conflicts)
        rows: Counter[tuple[str, str, str]] = Counter(
            (service_of(r.party), str(r.data["table"]), str(r.data["row"])) for r in conflicts
        )
        by_table = _ranked(tables)
        hot_rows = [[*row, count] for row, count in sorted(rows.items(), key=lambda item: (-item[1], item[0]))]
        hot_rows = hot_rows[:HOT_ROWS]
    return {
        "total": len(conflicts),
        "by_database": {
            service: {
                "conflicts": count,
                "commits": commits.get(service, 0),
                "share": round(count / (count + commits.get(service, 0)), 4),
            }
            for service, count in _ranked(by_database).items()
        },
        "by_work": _ranked(by_work),
        "by_table": by_table,
        "hot_rows": hot_rows,
    }
