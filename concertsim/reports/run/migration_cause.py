"""What in a migration plan let a promise break: a safeguard of one of its moves switched off
(``migration.fence=false``, or ``migration.then.fence=false`` for the next move of a chain) that
exists for the broken promise, in the words of its ablation row (:data:`concertsim.ablation.SAFEGUARDS`)."""

from __future__ import annotations

from concertsim.ablation import SAFEGUARDS, Safeguard
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.schema import Scenario

__all__ = ["migration_cause"]


def _switched_off(plan: MigrationPlan, safeguard: Safeguard) -> tuple[str, str] | None:
    """``safeguard``'s switch (``("fence", "false")`` for ``migration.fence=false``) if ``plan`` is set
    as it sets it and the row is of ``plan``'s service; else None."""
    key, _, value = safeguard.switch.partition("=")
    if not key.startswith("migration.") or (safeguard.moves or "point") != plan.service:
        return None
    field = key.removeprefix("migration.")
    return (field, value) if str(getattr(plan, field, None)).lower() == value.lower() else None


def migration_cause(scenario: Scenario, invariant: str) -> str | None:
    """Why the scenario's migration plan lets ``invariant`` break: each safeguard of a move switched
    off that exists for it, with where it is set; None if none is."""
    if scenario.migration is None:
        return None
    found = []
    for depth, plan in enumerate(scenario.migration.chain()):
        for safeguard in SAFEGUARDS:
            switch = _switched_off(plan, safeguard) if invariant in safeguard.protects else None
            if switch is not None:
                field, value = switch
                found.append(f"{plan.service.capitalize()}'s move has a safeguard switched off "
                             f"(migration.{'then.' * depth}{field}={value}): {safeguard.why}")
    return " ".join(found) or None
