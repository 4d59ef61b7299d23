"""The promise of Reservation's move out of the monolith (seed 9, the last stage;
:mod:`concertsim.sim.run.reservation_migration`): while users hold and pay, Reservation's data
moves to its new store with every change kept, one store at a time writing it.

Judged from the last write of each of Reservation's rows by the store that owned the data when it
committed (the plan's record) against the rows of the store that owns the data at the end, from
the writes a store committed to Reservation's rows while another owned them (``migration.write``),
and from the holds Reservation announced (each SeatReservedEvent names a reservation the owner
must hold). The sagas in flight at the cutover, the holds' expiry and the events' delivery are
judged by the invariants that judge them in any run (``no-orphaned-deduction``,
``seats-released-on-expiry``, ``sagas-terminate``, ``no-lost-events``, ``data-platform-exactly-once``),
which read the owner's store.

"Not applicable" when no plan moved Reservation, or when its plan never copied Reservation's data.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from concertsim.checks.applicability import service_moved
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import plan_steps_of, seqs
from concertsim.models import reservations
from concertsim.sim.infrastructure.storage import DELETED
from concertsim.sim.run.reservation_migration import (
    NEW_RESERVATION,
    OLD_RESERVATION,
    OWNER_TABLE,
    WRITES_TABLE,
)
from concertsim.sim.run.result import RunResult

__all__ = ["reservation_moved"]

_ID = "migration-reservation-kept"
_NAMES = {OLD_RESERVATION: "the old store", NEW_RESERVATION: "the new store"}


def reservation_moved(result: RunResult) -> str | None:
    """A plan moving Reservation ran and copied its data."""
    return service_moved(result, "reservation", "Reservation")


@invariant(
    _ID,
    "safety",
    "While Reservation's data moves to its new store, no change to a reservation, payment, hold or seat "
    "is lost (the store that owns the data at the end holds each row as its owner last wrote it, and "
    "every hold Reservation announced), and only the store that owns the data writes it.",
    applies=reservation_moved,
)
def reservation_kept(result: RunResult) -> list[Violation]:
    if reservation_moved(result) is not None:
        return []  # nothing moved: Reservation's rows are the other invariants' to judge
    moved: dict[str, dict[Hashable, Any]] = result.state.get("reservation_migration", {})
    writes: dict[Hashable, tuple[str, Any]] = moved.get(WRITES_TABLE, {})
    owner = str(moved.get(OWNER_TABLE, {}).get(None, OLD_RESERVATION))
    held = result.state.get(OLD_RESERVATION, {})
    steps = [r.seq for r in plan_steps_of(result, "reservation")]
    strays = [r for r in result.trace.of_kind("migration.write") if r.party in _NAMES]
    last = (len(result.trace) - 1,) if len(result.trace) else ()
    where = _NAMES.get(owner, owner)
    violations: list[Violation] = []

    lost: list[tuple[str, Hashable, str]] = []
    for address, (store, row) in writes.items():
        table, key = address  # type: ignore[misc]
        found = held.get(table, {}).get(key)
        if (found is not None) if row is DELETED else found != row:
            lost.append((table, key, store))
    if lost:
        table, key, store = lost[0]
        violations.append(Violation(
            _ID,
            f"{len(lost)} row(s) of Reservation's are not in {where}, which owns the data at the end, as their "
            f"owner last wrote them: first {table}[{key!r}] (written by {_NAMES.get(store, store)})",
            evidence={"count": len(lost), "owner": owner, "rows": [f"{t}[{k!r}]" for t, k, _ in lost[:10]]},
            records=seqs([r.seq for r in strays][:5], steps) or last,
        ))

    if strays:
        first = strays[0]
        violations.append(Violation(
            _ID,
            f"{len(strays)} write(s) to Reservation's rows committed by a store that did not own the data: first by "
            f"{_NAMES.get(first.party, first.party)} at {first.at:.3f} s"
            + (" after the cutover" if first.data.get("cut_over") else ""),
            evidence={"count": len(strays), "stores": sorted({r.party for r in strays}), "at": first.at,
                      "users": first.data.get("users", [])},
            records=seqs([r.seq for r in strays][:5], steps) or last,
        ))

    kept = held.get(reservations.RESERVATIONS, {})
    announced = [r for r in result.trace.of_kind("event.raised")
                 if r.data.get("type") == "SeatReservedEvent" and r.data["payload"].get("reservation_id") not in kept]
    if announced:
        first = announced[0]
        violations.append(Violation(
            _ID,
            f"{len(announced)} hold(s) Reservation announced are not in {where}, which owns the data at the end: "
            f"first {first.data['payload']['reservation_id']}, announced by {first.party} at {first.at:.3f} s",
            evidence={"count": len(announced), "owner": owner,
                      "reservations": [r.data["payload"]["reservation_id"] for r in announced[:10]]},
            records=seqs([r.seq for r in announced][:5], steps) or last,
        ))
    return violations
