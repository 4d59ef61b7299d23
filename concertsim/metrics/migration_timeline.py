"""A migration in motion (``scenario.migration``, seed 9): what the timeline of the move needs,
read from the trace: each step and its outcome, the share of users moved over time, the writes the
fences refused, the writes a store took for a user it did not own, and the copy's applied batches."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.records import RecordsByKind
from concertsim.sim.hosting.shift_routing import NEW_POINT, OLD_POINT
from concertsim.sim.run.result import RunResult

__all__ = ["migration_timeline"]

_STEP_KEYS = ("step", "action", "outcome")


def migration_timeline(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None without a plan; else ``service``, ``capture``, the safeguards (``acks``, ``verify``,
    ``catch_up``, ``fence``), ``steps`` (each step's record: ``at``, ``step``, ``action``,
    ``outcome`` and what it did), ``moved`` ([time, users on the new store] after each move,
    ``users`` in all), ``moved_while_copy_lagged``, ``refused`` (times of writes a fence refused),
    ``stray_writes`` (times a store committed a write of a user it did not own, by store) and
    ``copied`` (for each direction, [time, changes applied] per batch)."""
    plan = result.scenario.migration
    if plan is None:
        return None
    steps = [{"at": r.at, **{k: r.data[k] for k in _STEP_KEYS},
              **{k: v for k, v in sorted(r.data.items()) if k not in _STEP_KEYS}}
             for r in records.get("migration.step", ())]
    on_new = 0
    moved: list[list[float]] = []
    lagged = 0
    for r in records.get("migration.moved", ()):
        on_new += 1 if r.data["to"] == NEW_POINT else -1
        lagged += 1 if r.data["pending"] else 0
        if moved and moved[-1][0] == r.at:
            moved[-1][1] = on_new
        else:
            moved.append([r.at, on_new])
    stray: dict[str, list[float]] = {OLD_POINT: [], NEW_POINT: []}
    for r in records.get("migration.write", ()):
        stray[r.party].append(r.at)
    copied: dict[str, list[list[float]]] = {f"{OLD_POINT}->{NEW_POINT}": [], f"{NEW_POINT}->{OLD_POINT}": []}
    for r in records.get("point.replicated", ()):
        copied[f"{r.data['source']}->{r.party}"].append([r.at, r.data["changes"]])
    return {
        "service": plan.service,
        "capture": plan.capture,
        "acks": plan.acks,
        "verify": plan.verify,
        "catch_up": plan.catch_up,
        "fence": plan.fence,
        "users": result.scenario.workload.users,
        "steps": steps,
        "moved": moved,
        "moved_while_copy_lagged": lagged,
        "refused": [r.at for r in records.get("migration.refused", ())],
        "stray_writes": stray,
        "copied": copied,
    }
