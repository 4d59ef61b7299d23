"""Invariants and convergence, evaluated on a finished run's records (ARCHITECTURE.md, "checks/").

Each invariant has a stable id and returns its violations with evidence. ``check_run`` evaluates the
ones a scenario enables, in the order of ``INVARIANT_IDS``.
"""

from __future__ import annotations

from collections.abc import Iterable

from concertsim.checks import (  # noqa: F401 - importing registers the invariants
    booking,
    call_timeouts,
    charges,
    client_history,
    event_sourcing,
    holds,
    liveness,
    lost_events,
    orphaned_deductions,
    point_stores,
    points_ledger,
    projections,
    refunds,
    queue_capacity,
    schema_versions,
    seat_view_timeliness,
    termination,
)
from concertsim.checks.base import REGISTRY, Invariant, Verdict, Violation
from concertsim.scenarios.schema import INVARIANT_IDS
from concertsim.sim.result import RunResult

__all__ = ["check_run", "REGISTRY", "Invariant", "Verdict", "Violation"]

assert set(REGISTRY) == set(INVARIANT_IDS), set(REGISTRY) ^ set(INVARIANT_IDS)


def check_run(result: RunResult, ids: Iterable[str] | None = None) -> list[Verdict]:
    wanted = list(ids) if ids is not None else list(result.scenario.enabled_checks())
    return [Verdict(REGISTRY[i], REGISTRY[i].check(result)) for i in INVARIANT_IDS if i in wanted]
