"""What in a migration plan let a promise break: a safeguard of one of its moves switched off
(``migration.fence=false``, or ``migration.then.fence=false`` for the next move of a chain) that
exists for the broken promise, in the words of its ablation row (:data:`concertsim.ablation.SAFEGUARDS`)."""

from __future__ import annotations

from concertsim.ablation import SAFEGUARDS, Safeguard
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.schema import Scenario

__all__ = ["migration_cause"]


def _switched_off(plan: MigrationPlan, safeguard: Safeguard) -> bool:
    """Whether ``plan`` is set as ``safeguard``'s switch sets it (``migration.fence=false``: its
    ``fence`` is False), for a row of ``plan``'s service."""
    key, _, value = safeguard.switch.partition("=")
    field = key.removeprefix("migration.")
    if not key.startswith("migration.") or (safeguard.moves or "point") != plan.service:
        return False
    current = getattr(plan, field, None)
    return str(current).lower() == value.lower()


def migration_cause(scenario: Scenario, invariant: str) -> str | None:
    """Why the scenario's migration plan lets ``invariant`` break: each safeguard of a move switched
    off that exists for it, with where it is set; None if none is."""
    if scenario.migration is None:
        return None
    found = []
    for depth, plan in enumerate(scenario.migration.chain()):
        for safeguard in SAFEGUARDS:
            if invariant in safeguard.protects and _switched_off(plan, safeguard):
                key, _, value = safeguard.switch.partition("=")
                where = "migration." + "then." * depth + key.removeprefix("migration.")
                found.append(f"{plan.service.capitalize()}'s move has a safeguard switched off ({where}={value}): "
                             f"{safeguard.why}")
    return " ".join(found) or None
