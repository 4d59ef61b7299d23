"""A run: workload (with faults) → heal → settle → records (ARCHITECTURE.md, "sim/").

``run_scenario`` is a pure function of (scenario, seed) apart from ``wall_seconds``: the same inputs
give the same trace, byte for byte. Given ``max_events``, a run that would process more simulated
events before its faults are healed raises :class:`~concertsim.sim.run.event_budget.OverBudget` there
(a budget in events, never in wall time, so whether a run is over it is a function of the inputs too).
After the heal the run has its own allowance (:func:`settle_allowance`): a run still busy when that
is spent has not settled, and ends as a run that reaches its settle deadline does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Hashable
from dataclasses import dataclass
from typing import Any, Literal

import simpy

from concertsim.models import orchestration, reservations
from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.collection import rare_collection
from concertsim.sim.infrastructure.spilled_trace import SpillingTrace
from concertsim.sim.infrastructure.trace import Trace, TraceMode
from concertsim.sim.infrastructure.workers import PoolUsage
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.consumer import DeadLetterRedrive
from concertsim.sim.run.event_budget import EventBudget, OverBudget
from concertsim.sim.run.faults import FaultInjector
from concertsim.sim.run.result import Phases, RunResult, Sample
from concertsim.sim.run.system import System, build_system
from concertsim.sim.run.workload import Workload

__all__ = ["run_scenario", "RunProgress", "PROGRESS_STEPS", "OverBudget"]

PROGRESS_STEPS = 100
"""How many times the workload phase reports progress (it runs in this many slices)."""


@dataclass(frozen=True)
class RunProgress:
    """How far a run has got: simulated ``now``, the ``phase`` it is in, the simulated time the
    phase ends at the latest (``phase_end``), and the users arrived out of those expected
    (``users_expected`` is None for steady arrivals, whose count depends on the draws)."""

    now: float
    phase: Literal["workload", "settle"]
    phase_end: float
    users_arrived: int
    users_expected: int | None


def run_scenario(
    scenario: Scenario,
    seed: int | None = None,
    on_progress: Callable[[RunProgress], None] | None = None,
    trace_mode: TraceMode = "memory",
    max_events: int | None = None,
) -> RunResult:
    """Simulate ``scenario`` with ``seed`` (default: the scenario's own) and return its records.

    ``on_progress``, if given, is called :data:`PROGRESS_STEPS` times during the workload phase and
    after each settle check. It observes only: the trace is the same with or without it.
    ``trace_mode="stream"`` keeps the trace's high-volume kinds on disk
    (:class:`~concertsim.sim.infrastructure.spilled_trace.SpillingTrace`): the same records, read back more slowly;
    a large one starts being serialized and hashed in another process as the run ends
    (:meth:`~concertsim.sim.infrastructure.spilled_trace.SpillingTrace.finish`).
    ``max_events`` bounds the simulated events the run may process before the heal: one more
    raises :class:`OverBudget` (the run is stopped, neither passed nor failed: a large example).
    After the heal no user arrives and no fault strikes, so the work left is the backlog's; a run
    that spends :func:`settle_allowance` there without becoming quiescent is ended unsettled
    (``phases.out_of_events``), as at its settle deadline: a livelock is a broken promise, not a
    large example. The count is in ``counters["events"]`` (``counters["events_before_heal"]`` until the
    heal) and does not depend on ``on_progress``.
    """
    trace = SpillingTrace() if trace_mode == "stream" else Trace()
    with rare_collection():
        result = _run(scenario, seed, on_progress, trace, max_events)
    trace.finish()
    return result


def _run(
    scenario: Scenario, seed: int | None, on_progress: Callable[[RunProgress], None] | None, trace: Trace,
    max_events: int | None,
) -> RunResult:
    started = time.perf_counter()
    seed = scenario.seed if seed is None else seed
    world = World(scenario, seed, trace)
    system = build_system(world)
    faults = FaultInjector(world, system)
    faults.schedule(scenario.faults)
    workload = Workload(world, system.network, system.hosts["gateway"])
    workload.start()
    samples: list[Sample] = []
    world.env.process(_sample(system, workload, samples))
    env = world.env
    budget = EventBudget(env, max_events)

    world.record("phase.workload", "runner")
    expected_users = scenario.workload.users if scenario.workload.arrival == "flash_crowd" else None
    duration = scenario.workload.duration
    if on_progress is None:
        budget.run_until(duration)
    else:
        # Slicing the run does not change it: SimPy orders events by (time, priority, id) and the
        # slices' stop events change no one's relative order.
        for step in range(1, PROGRESS_STEPS + 1):
            budget.run_until(duration if step == PROGRESS_STEPS else duration * step / PROGRESS_STEPS)
            on_progress(RunProgress(env.now, "workload", duration, workload.arrived, expected_users))
    workload_end = env.now

    faults.heal_all()
    heal_at = env.now
    world.record("phase.heal", "runner")
    redriving = DeadLetterRedrive(system.broker, system.host_of,
                                  lambda group, event_type: system.handlers[(group, event_type)], system.policy.dedup)
    env.process(redriving.run())

    settled_at = None
    out_of_events = False
    deadline = heal_at + scenario.settle.deadline
    before_heal = budget.processed
    if max_events is not None:
        budget.limit = before_heal + settle_allowance(max_events, before_heal)
    while env.now < deadline:
        if redriving.idle and _quiescent(system, workload):
            settled_at = env.now
            break
        try:
            budget.run_until(min(deadline, env.now + scenario.settle.check_interval))
        except OverBudget:
            out_of_events = True
            break
        if on_progress is not None:
            on_progress(RunProgress(env.now, "settle", deadline, workload.arrived, expected_users))
    if settled_at is None and not out_of_events and redriving.idle and _quiescent(system, workload):
        settled_at = env.now
    world.record("phase.settled" if settled_at is not None
                 else "phase.settle_events" if out_of_events else "phase.settle_deadline", "runner")

    return RunResult(
        scenario=scenario,
        seed=seed,
        trace=world.trace,
        history=workload.history,
        state=_state(system),
        dead_letters=list(system.broker.dead_letters),
        subscriptions=system.subscriptions(),
        in_process=system.in_process(),
        at_broker={kind: list(groups) for kind, groups in system.broker.interests.items()},
        phases=Phases(workload_end, heal_at, settled_at, env.now, out_of_events),
        samples=samples,
        counters={
            "calls": system.network.calls,
            "users": workload.arrived,
            "commits": sum(db.commits for db in system.databases),
            "events": budget.processed,
            "events_before_heal": before_heal,
        },
        fault_windows=faults.windows(),
        wall_seconds=time.perf_counter() - started,
        resources=_resource_usage(system),
    )


def settle_allowance(max_events: int, before_heal: int) -> int:
    """The simulated events a run may process after its heal, given the budget ``max_events`` and
    the ``before_heal`` events it processed until then: whatever is left of the budget, but at least
    as many as before the heal. A backlog is made by the work before the heal, so draining it takes
    no more than that work did (the built-ins' whole runs take a tenth of the default budget); a
    run busier than that after its faults are gone is going round in circles."""
    return max(max_events - before_heal, before_heal)


def _resource_usage(system: System) -> dict[str, PoolUsage]:
    """Each bounded resource's measurements, by name: ``<service>.workers`` for every host
    (``<service>#<n>.workers`` for each replica; a process of several services:
    ``<service>+<service>....workers``, once), ``<service>.connections`` for every database with a
    connection pool (shared by a service's replicas, or a process's services) and
    ``broker.<topic>/<partition>`` for every partition's log writer when appends take time."""
    usage = {}
    for host in system.hosts.values():
        if host.colocation is not None and host.colocation.members[0] != host.name:
            continue  # services sharing a process share its pools, reported once under its name
        name = host.name if host.colocation is None else host.colocation.name
        usage[f"{name}.workers"] = host.workers.settle()
        first = host is system.replicas[host.service][0]
        if first and host.db is not None and host.db.connections is not None:
            usage[f"{host.service if host.colocation is None else name}.connections"] = host.db.connections.settle()
    for (topic, partition), writer in sorted(system.broker.writers.items()):
        usage[f"broker.{topic}/{partition}"] = writer.settle()
    return usage


def _in_flight(system: System) -> tuple[int, int]:
    outbox = sum(db.outbox_backlog() for db in system.databases)
    owner = (system.replicas["reservation"][0] if system.reservation_migration is None
             else system.reservation_migration.owner_host())
    tables = owner.db.tables
    holds = len(tables.get(reservations.OPEN_HOLDS, {})) + len(tables.get(orchestration.UNFINISHED, {}))
    return outbox, holds


def _quiescent(system: System, workload: Workload) -> bool:
    """Nothing left to do: no user active, every host up, outboxes empty, consumer lag zero and no
    reservation saga in flight (every hold confirmed, expired or failed, every orchestrated
    payment saga finished)."""
    if workload.active_users or workload.arrived < _expected_users(workload):
        return False
    if not system.broker.is_up or not all(h.is_up for h in system.hosts.values()):
        return False
    outbox, holds = _in_flight(system)
    if system.point_shift is not None and system.point_shift.backlog():
        return False
    if any(move.backlog() for move in system.moves):
        return False
    return outbox == 0 and holds == 0 and system.broker.total_lag() == 0


def _state(system: System) -> dict[str, dict[str, dict[Hashable, Any]]]:
    """Each service's committed tables; during a traffic shift, ``point`` is the owners' view of
    the two Point stores (:mod:`concertsim.sim.run.point_shift`)."""
    state = {host.service: host.db.snapshot() for host in system.services}
    if system.point_shift is not None:
        state.update(system.point_shift.result_state())
    for move in system.moves:
        state.update(move.result_state())
    return state


def _expected_users(workload: Workload) -> int:
    spec = workload.spec
    return spec.users if spec.arrival == "flash_crowd" else workload.arrived


def _sample(system: System, workload: Workload, samples: list[Sample]) -> Generator[simpy.Event, Any, None]:
    env = system.world.env
    interval = system.world.scenario.settle.check_interval
    while True:
        outbox, holds = _in_flight(system)
        samples.append(
            Sample(env.now, outbox, system.broker.total_lag(), holds, workload.active_users,
                   len(system.broker.dead_letters))
        )
        yield env.timeout(interval)
