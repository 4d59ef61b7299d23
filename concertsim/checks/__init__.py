"""Invariants and convergence, evaluated on a finished run's records (ARCHITECTURE.md, "checks/").

Each invariant has a stable id and returns its violations with evidence, and says when a run cannot
judge it (then its verdict is "not applicable", never "holds"). ``check_run`` evaluates the ones a
scenario enables, in the order of ``INVARIANT_IDS``.

The invariants are grouped by what they promise: ``money/`` (points and payments), ``seats/``
(seats, holds, the waiting line), ``messaging/`` (events and projections), ``clients/`` (what buyers
see, and termination) and ``migration/`` (a migration in motion). Beside them, the machinery every
group shares: ``base`` (the registry and verdicts), ``evidence`` (trace indexes), ``applicability``
(when a run cannot judge), ``fault_relevance`` (which faults struck a violation) and ``probes``
(coverage of dangerous situations).
"""

from __future__ import annotations

from collections.abc import Iterable

from concertsim.checks.base import (
    REGISTRY,
    Invariant,
    Status,
    Verdict,
    Violation,
    judge,
)

# Importing each group's modules registers their invariants.
from concertsim.checks.clients import (  # noqa: F401
    call_timeouts,
    client_history,
    liveness,
    termination,
)
from concertsim.checks.messaging import lost_events, projections, schema_versions  # noqa: F401
from concertsim.checks.migration import (  # noqa: F401
    concert_move,
    migration_moves,
    point_stores,
    queue_move,
    reservation_move,
)
from concertsim.checks.money import (  # noqa: F401
    charges,
    event_sourcing,
    orphaned_deductions,
    points_ledger,
    refunds,
)
from concertsim.checks.seats import (  # noqa: F401
    booking,
    cached_listings,
    holds,
    queue_capacity,
    seat_view_timeliness,
)
from concertsim.scenarios.schema import INVARIANT_IDS
from concertsim.sim.infrastructure.collection import rare_collection
from concertsim.sim.run.result import RunResult

__all__ = ["check_run", "REGISTRY", "Invariant", "Status", "Verdict", "Violation"]

assert set(REGISTRY) == set(INVARIANT_IDS), set(REGISTRY) ^ set(INVARIANT_IDS)


@rare_collection()
def check_run(result: RunResult, ids: Iterable[str] | None = None) -> list[Verdict]:
    """The verdict of each invariant in ``ids`` (default: the ones the scenario enables): holds,
    violated, or not applicable with the reason (:func:`concertsim.checks.base.judge`)."""
    wanted = list(ids) if ids is not None else list(result.scenario.enabled_checks())
    return [judge(REGISTRY[i], result) for i in INVARIANT_IDS if i in wanted]
