"""A migration plan run in one go (``concertsim migrate --plan``, seed 9): the scenario that carries
it, and what each of its steps did, read from the finished run's trace.

The plan comes from a plan file (the fields of a ``migration:`` block) laid onto a scenario at the
stage its service moves from (the monolith for Point, ``point_split`` for Queue, ``queue_split``
for Concert, ``concert_split`` for Reservation), or from a built-in scenario that carries one
(``point-migration``, ``queue-migration``, ``concert-migration``, ``reservation-migration``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from concertsim.checks.base import Verdict
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.loader import ScenarioError, builtin_names, load_builtin, with_migration_plan
from concertsim.scenarios.schema import Scenario
from concertsim.sim.run.result import RunResult

__all__ = ["chain_checks", "MIGRATION_CHECKS", "QUEUE_MIGRATION_CHECKS", "CONCERT_MIGRATION_CHECKS", "RESERVATION_MIGRATION_CHECKS",
           "migration_checks", "PlanStep", "plan_scenario", "plan_steps", "step_line", "verdict_line"]

MIGRATION_CHECKS = (
    "migration-no-lost-write", "migration-no-double-spend", "migration-reads-monotonic", "migration-one-owner",
    "migration-rollback-lossless",
)
"""The invariants of a plan that moves Point."""
QUEUE_MIGRATION_CHECKS = ("migration-queue-tokens-kept",)
"""The invariants of a plan that moves Queue."""
CONCERT_MIGRATION_CHECKS = ("migration-concert-view-kept",)
"""The invariants of a plan that moves Concert."""
RESERVATION_MIGRATION_CHECKS = ("migration-reservation-kept",)
"""The invariants of a plan that moves Reservation."""


def migration_checks(service: str) -> tuple[str, ...]:
    """The invariants about the move of ``service``, in the order ``migrate --plan`` prints them."""
    return {"queue": QUEUE_MIGRATION_CHECKS, "concert": CONCERT_MIGRATION_CHECKS,
            "reservation": RESERVATION_MIGRATION_CHECKS}.get(service, MIGRATION_CHECKS)
_STEP_KEYS = ("step", "action", "outcome", "service")


def plan_scenario(plan: str, base: Scenario | None, overrides: Iterable[str] = ()) -> Scenario:
    """The scenario to run for ``--plan plan``: a plan file laid onto ``base`` (at the stage its
    service moves from), or a built-in scenario that carries a plan. Raises :class:`ScenarioError`."""
    path = Path(plan)
    if path.exists() or path.suffix.lower() in (".yaml", ".yml") or len(path.parts) > 1:
        if base is None:
            base = load_builtin()
        return with_migration_plan(base, path, overrides)
    if plan in builtin_names():
        scenario = load_builtin(plan, overrides)
        if scenario.migration is None:
            carrying = [name for name in builtin_names() if load_builtin(name).migration is not None]
            raise ScenarioError(plan, [("migration", "this built-in scenario carries no migration plan (built-in "
                                        f"plans: {', '.join(carrying)})")])
        return scenario
    raise ScenarioError(plan, [("", "no such plan file or built-in scenario with a plan")])


@dataclass(frozen=True)
class PlanStep:
    """One ``migration.step`` record: a step's outcome at simulated time ``at`` and its details."""

    at: float
    step: int
    action: str
    outcome: str
    details: dict[str, Any]
    service: str = "point"


def plan_steps(result: RunResult) -> list[PlanStep]:
    """What each step of the plan did, in the order it happened."""
    return [PlanStep(r.at, r.data["step"], r.data["action"], r.data["outcome"],
                     {k: v for k, v in sorted(r.data.items()) if k not in _STEP_KEYS}, r.data["service"])
            for r in result.trace.of_kind("migration.step")]


def step_line(step: PlanStep, chained: bool = False) -> str:
    """``  35.0 s  cutover   done (fenced=True, drained=True, moved_at_cutover=0)``; with
    ``chained`` (a plan of several services), the step's service after the time."""
    details = ", ".join(f"{key}={value}" for key, value in step.details.items() if key != "sample")
    service = f"{step.service:<12}" if chained else ""
    return f"{step.at:7.1f} s  {service}{step.action:<9} {step.outcome}" + (f" ({details})" if details else "")


def chain_checks(plan: MigrationPlan | None) -> tuple[str, ...]:
    """The invariants about every move of ``plan``'s chain (Point's if there is no plan)."""
    services = [p.service for p in plan.chain()] if plan is not None else ["point"]
    return tuple(dict.fromkeys(name for service in services for name in migration_checks(service)))


def verdict_line(verdict: Verdict) -> str:
    """``migration-no-lost-write: holds`` (with the reason or the first violation)."""
    if verdict.violations:
        return f"{verdict.invariant.id}: VIOLATED ({len(verdict.violations)}): {verdict.violations[0].message}"
    status = verdict.status.replace("_", " ")
    return f"{verdict.invariant.id}: {status}" + (f" ({verdict.not_applicable})" if verdict.not_applicable else "")
