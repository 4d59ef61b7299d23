"""Invariants and convergence, evaluated on a finished run's records (ARCHITECTURE.md, "checks/").

Each invariant has a stable id and returns its violations with evidence, and says when a run cannot
judge it (then its verdict is "not applicable", never "holds"). ``check_run`` evaluates the ones a
scenario enables, in the order of ``INVARIANT_IDS``.
"""

from __future__ import annotations

from collections.abc import Iterable

from concertsim.checks import (  # noqa: F401 - importing registers the invariants
    booking,
    cached_listings,
    call_timeouts,
    charges,
    client_history,
    event_sourcing,
    holds,
    liveness,
    lost_events,
    migration_moves,
    orphaned_deductions,
    point_stores,
    points_ledger,
    projections,
    queue_move,
    concert_move,
    refunds,
    queue_capacity,
    schema_versions,
    seat_view_timeliness,
    termination,
)
from concertsim.checks.base import REGISTRY, Invariant, Status, Verdict, Violation, judge
from concertsim.scenarios.schema import INVARIANT_IDS
from concertsim.sim.run.result import RunResult

__all__ = ["check_run", "REGISTRY", "Invariant", "Status", "Verdict", "Violation"]

assert set(REGISTRY) == set(INVARIANT_IDS), set(REGISTRY) ^ set(INVARIANT_IDS)


def check_run(result: RunResult, ids: Iterable[str] | None = None) -> list[Verdict]:
    """The verdict of each invariant in ``ids`` (default: the ones the scenario enables): holds,
    violated, or not applicable with the reason (:func:`concertsim.checks.base.judge`)."""
    wanted = list(ids) if ids is not None else list(result.scenario.enabled_checks())
    return [judge(REGISTRY[i], result) for i in INVARIANT_IDS if i in wanted]
