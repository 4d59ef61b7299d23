"""Shrink a failing scenario until it is 1-minimal: no single element of it can go and leave it
failing.

:func:`one_minimal` tries every single-element reduction of the scenario and keeps the first that
still fails, then starts again from the smaller scenario, until none does (a fixpoint; every
accepted step makes the scenario strictly smaller, so it ends). The reductions, big steps first:

- delete one fault;
- fewer users: one, half as many, one fewer;
- remove one clause of a fault's message filter (the clause back to its default, which matches
  more messages; a filter with no clause left is dropped);
- a fault earlier: at the start, or at half its time;
- halve one fault's duration (for a fault that lasts "until heal", half the time left until then);
- a workload field the search varies back to the base scenario's value;
- a migration plan's steps the search re-timed back to the base scenario's.

The result is 1-minimal with respect to these reductions: removing any one fault, user or filter
clause, or halving any fault's duration, makes it pass. It is a deterministic function of the
failing scenario (unlike Hypothesis's shrinker, whose pass order depends on ``PYTHONHASHSEED``),
and :class:`Minimization` says whether the budget allowed the proof to finish.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.scenarios.schema import FaultSpec, MessageFilter, Scenario

__all__ = ["Minimization", "one_minimal", "reductions"]

_FILTER_DEFAULTS: dict[str, Any] = {
    name: info.default for name, info in MessageFilter.model_fields.items()
}


@dataclass
class Minimization:
    """What the deletion pass did: the reductions it kept, the runs it spent, and whether it ended
    at a fixpoint (``one_minimal``) rather than on its budget."""

    scenario: Scenario
    kept: list[str] = field(default_factory=list)
    runs: int = 0
    checked: int = 0
    """Reductions of the final scenario shown to make it pass (all of them when ``one_minimal``)."""
    one_minimal: bool = False


# The workload fields the search varies besides the number of users (concertsim.strategies.workloads).
VARIED_WORKLOAD_FIELDS = ("flash_window", "abandon_probability", "initial_points")


def reductions(scenario: Scenario, base: Scenario | None = None) -> Iterator[tuple[str, Scenario]]:
    """Every single-element reduction of ``scenario``, each with a description, big steps first
    (whole faults, then users), so that they are tried before the fine ones. ``base`` is the
    scenario the search varied, whose workload values count as the simplest."""
    faults = list(scenario.faults)
    for i, fault in enumerate(faults):
        yield f"delete fault {i} ({_describe(fault)})", _with_faults(scenario, faults[:i] + faults[i + 1 :])
    users = scenario.workload.users
    for fewer in dict.fromkeys(n for n in (1, users // 2, users - 1) if 1 <= n < users):
        workload = scenario.workload.model_copy(update={"users": fewer})
        yield f"down to {fewer} user{'s' if fewer > 1 else ''}", _rebuilt(scenario, workload=workload)
    for i, fault in enumerate(faults):
        if fault.match is None:
            continue
        clauses = fault.match.model_dump()
        for name, value in clauses.items():
            if value == _FILTER_DEFAULTS[name]:
                continue
            rest = {**clauses, name: _FILTER_DEFAULTS[name]}
            match = None if rest == _FILTER_DEFAULTS else MessageFilter.model_validate(rest)
            changed = fault.model_copy(update={"match": match})
            yield f"fault {i}: drop the filter clause {name}={value!r}", _with_faults(scenario, _replace(faults, i, changed))
    for i, fault in enumerate(faults):
        for earlier in dict.fromkeys(t for t in (0.0, round(fault.at / 2, 1)) if t < fault.at):
            changed = fault.model_copy(update={"at": earlier})
            yield f"fault {i}: at {fault.at:g} s -> {earlier:g} s", _with_faults(scenario, _replace(faults, i, changed))
    for i, fault in enumerate(faults):
        shorter = _halved_duration(fault, scenario.workload.duration)
        if shorter is not None:
            changed = fault.model_copy(update={"duration": shorter})
            before = f"{fault.duration:g} s" if fault.duration > 0 else "until heal"
            yield f"fault {i}: duration {before} -> {shorter:g} s", _with_faults(scenario, _replace(faults, i, changed))
    if base is not None:
        for name in VARIED_WORKLOAD_FIELDS:
            simplest = getattr(base.workload, name)
            if getattr(scenario.workload, name) != simplest:
                workload = scenario.workload.model_copy(update={name: simplest})
                yield f"workload.{name} back to {simplest!r}", _rebuilt(scenario, workload=workload)
        plan, planned = scenario.migration, base.migration
        if plan is not None and planned is not None and _timing(plan) != _timing(planned):
            yield "migration.steps back to the base's", _rebuilt(scenario, migration=_timed_as(plan, planned))


def _timing(plan: MigrationPlan) -> list[tuple[MigrationStep, ...]]:
    """The steps of each plan of ``plan``'s chain."""
    return [chained.steps for chained in plan.chain()]


def _timed_as(plan: MigrationPlan, planned: MigrationPlan) -> MigrationPlan:
    """``plan`` (each of its chain) with the steps of ``planned``'s."""
    then = plan.then if plan.then is None or planned.then is None else _timed_as(plan.then, planned.then)
    return plan.model_copy(update={"steps": planned.steps, "then": then})


def one_minimal(
    scenario: Scenario, fails: Callable[[Scenario], bool], *, base: Scenario | None = None, max_runs: int = 300
) -> Minimization:
    """Reduce ``scenario`` (which ``fails``) until no single reduction of it still fails, within
    ``max_runs`` runs of ``fails``; ``base`` as for :func:`reductions`."""
    state = Minimization(scenario)
    while True:
        state.checked = 0
        for description, candidate in reductions(state.scenario, base):
            if state.runs >= max_runs:
                return state
            state.runs += 1
            if fails(candidate):
                state.scenario = candidate
                state.kept.append(description)
                break
            state.checked += 1
        else:
            state.one_minimal = True
            return state


def _halved_duration(fault: FaultSpec, workload_duration: float) -> float | None:
    """Half the fault's length on the 0.1 s grid, or None where it cannot get shorter.

    A zero duration means "until heal" for every kind but ``crash`` (where it means the restart
    time, which is not the fault's to shorten)."""
    if fault.duration > 0:
        length = fault.duration
    elif fault.kind != "crash" and workload_duration > fault.at:
        length = workload_duration - fault.at
    else:
        return None
    shorter = round(length / 2, 1)
    return shorter if 0.1 <= shorter < length else None


def _describe(fault: FaultSpec) -> str:
    what = f"{fault.kind} {fault.target}"
    if fault.match is not None and fault.match.message_type:
        what += f" {fault.match.message_type}"
    return f"{what} at {fault.at:g} s"


def _replace(faults: list[FaultSpec], index: int, fault: FaultSpec) -> list[FaultSpec]:
    return faults[:index] + [fault] + faults[index + 1 :]


def _with_faults(scenario: Scenario, faults: list[FaultSpec]) -> Scenario:
    return _rebuilt(scenario, faults=tuple(faults))


def _rebuilt(scenario: Scenario, **update: Any) -> Scenario:
    """``scenario`` with ``update`` applied, validated again as a whole."""
    return Scenario.model_validate(scenario.model_copy(update=update).model_dump())
