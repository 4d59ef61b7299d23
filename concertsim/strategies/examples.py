"""Whole examples: a base scenario with a drawn workload, seed, storage settings, migration timing
and fault schedule (:func:`scenarios`), and what they are drawn from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.schema import (
    DOMAIN_SERVICES,
    Scenario,
)
from concertsim.strategies.faults import fault_schedules
from concertsim.strategies.migration import Moves, _copy_messages, migration_plans, plan_moves
from concertsim.strategies.targets import _CRASH_TARGETS, FAULT_KINDS, _tenths

__all__ = [
    "EXPLORATION_BASE", "workloads", "storage_settings", "scenarios", "call_span_of", "crash_targets_of", "small_base",
]


EXPLORATION_BASE = "small-opening"


@st.composite
def workloads(draw: st.DrawFn, max_users: int = 30, hold_ttl: float | None = None) -> dict[str, Any]:
    """A small workload (as scenario fields) that shrinks towards fewer users and less variety.

    Given the base's ``hold_ttl``, a third of the workloads have buyers who pay in the last quarter
    of their hold: the payments that race the hold's expiry, where a late answer meets a swept
    hold and a seat already held again (real checkouts see them at every countdown's end)."""
    drawn: dict[str, Any] = {
        "users": draw(st.integers(1, max_users)),
        "flash_window": draw(_tenths(1, 20)),
        "abandon_probability": draw(st.sampled_from([0.0, 0.2, 0.5])),
        # The simplest buyer can pay for one seat; one with nothing must top up first.
        "initial_points": draw(st.sampled_from([50_000, 0, 200_000])),
    }
    if hold_ttl is not None and draw(st.integers(0, 2)) == 2:
        drawn["think_time"] = {"kind": "uniform", "low": 0.75 * hold_ttl, "high": hold_ttl}
    return drawn


@st.composite
def storage_settings(draw: st.DrawFn, base: Scenario) -> dict[str, Any]:
    """Storage fields of ``base`` to vary (as scenario fields): with event-sourced accounts, half the
    examples snapshot a balance after every event instead of the base's interval, so that the
    short streams a small search affords cross several snapshots (a real interval of hundreds is
    crossed only by streams that long). Nothing for another base, which draws as before."""
    if base.design.point_storage != "events" or base.storage.point_snapshot_every == 1:
        return {}
    return {"point_snapshot_every": 1} if draw(st.booleans()) else {}


@st.composite
def scenarios(
    draw: st.DrawFn,
    base: Scenario | None = None,
    kinds: Sequence[str] = FAULT_KINDS,
    max_faults: int = 4,
    max_users: int = 30,
    reorder_within_partition: bool = False,
) -> Scenario:
    """``base`` (default: a small ticket opening) with a drawn workload, seed and fault schedule,
    and, if it carries a migration plan, the plan's timing (:func:`migration_plans`)."""
    base = base or small_base()
    if "pause" in kinds and len(kinds) > 1 and not any(t for t in crash_targets_of(base) if "#" in t):
        # A pause makes zombies of replicas; a base without replicas draws as it did before it.
        kinds = [k for k in kinds if k != "pause"]
    # The seed and workload are drawn before the faults, so that when shrinking deletes a fault
    # the rest of the example (and so the run's randomness) stays the same.
    seed = draw(st.integers(0, 2**16))
    workload = draw(workloads(max_users, base.rules.hold_ttl))
    storage = draw(storage_settings(base))
    busiest = min(base.workload.duration, base.workload.flash_window + 25.0)
    plan = base.migration
    if plan is not None:
        # The users pay within seconds of arriving: the drawn crowd's window, not the base's.
        paying = min(base.workload.duration, workload["flash_window"] + 10.0)
        plan = draw(migration_plans(plan, base.workload.duration, paying))
    faults = draw(
        fault_schedules(kinds, max_faults, busiest, 20.0, reorder_within_partition,
                        crash_targets=crash_targets_of(base), hold_ttl=base.rules.hold_ttl,
                        extra_focus=_copy_focus(plan),
                        call_span=call_span_of(base),
                        answered_by_event=base.design.payment_flow == "choreography",
                        saga_driven=base.design.payment_flow == "orchestration", until=base.workload.duration,
                        queue_broker=base.broker.kind == "rabbitmq",
                        moves=_chosen_moves(draw, plan, base.workload.duration))
    )
    data = base.model_dump()
    data["workload"] = {**data["workload"], **workload}
    data["storage"] = {**data["storage"], **storage}
    data["faults"] = [f.model_dump() for f in faults]
    data["seed"] = seed
    if plan is not None:
        data["migration"] = plan.model_dump()
    return Scenario.model_validate(data)


def _copy_focus(plan: MigrationPlan | None) -> tuple[tuple[str, str | None], ...]:
    """The messages of every copy of ``plan``'s chain, for the fault schedule to aim at."""
    if plan is None:
        return ()
    return tuple(message for chained in plan.chain() for message in _copy_messages(chained.service))


def _chosen_moves(draw: st.DrawFn, plan: MigrationPlan | None, duration: float) -> Moves | None:
    """When ``plan`` moves users; of a chain, the moves of one of its plans, drawn (a plan alone
    draws nothing, and so draws as before)."""
    if plan is None:
        return None
    chain = plan.chain()
    return plan_moves(chain[0] if len(chain) == 1 else draw(st.sampled_from(chain)), duration)


def call_span_of(base: Scenario) -> float:
    """How long one of ``base``'s service-to-service calls keeps trying before it gives up: the
    call timeout times its attempts (the backoff between them left out), rounded to the 0.1 s grid."""
    network = base.network
    return round(network.call_timeout * (network.call_retries + 1), 1) or 0.1


def crash_targets_of(base: Scenario) -> tuple[str, ...]:
    """What a crash may strike in ``base``: every service, relay, consumer set, the broker and the
    gateway, then each replica of a replicated service (``point#2``), listed last so that a base
    without replicas draws exactly as before."""
    replicas = [
        f"{service}#{index}"
        for service in DOMAIN_SERVICES
        for index in range(1, getattr(base.services, service).replicas + 1)
        if getattr(base.services, service).replicas > 1
    ]
    return (*_CRASH_TARGETS, *replicas)


def small_base() -> Scenario:
    """The scenario property tests vary: the built-in ``small-opening``."""
    return load_builtin(EXPLORATION_BASE)
