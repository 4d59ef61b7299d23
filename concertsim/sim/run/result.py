"""The records of a finished run: what checks and reports read (never the live simulation)."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.trace import Trace
from concertsim.sim.infrastructure.workers import PoolUsage
from concertsim.sim.messaging.event_broker import DeadLetter
from concertsim.sim.run.history import ClientOp

__all__ = ["RunResult", "Phases", "Sample"]


@dataclass(frozen=True, slots=True)
class Phases:
    """When each phase ended. ``settled_at`` is None if the run never became quiescent before the
    settle deadline, or before it spent the simulated events it may process after the heal
    (``out_of_events``: it was still busy then, see :func:`concertsim.sim.run.runner.settle_allowance`)."""

    workload_end: float
    heal_at: float
    settled_at: float | None
    ended_at: float
    out_of_events: bool = False

    @property
    def time_to_convergence(self) -> float | None:
        return None if self.settled_at is None else self.settled_at - self.heal_at


@dataclass(frozen=True, slots=True)
class Sample:
    """The system's backlog at one moment, sampled every ``settle.check_interval``."""

    at: float
    outbox_backlog: int
    consumer_lag: int
    open_holds: int
    active_users: int
    dead_letters: int


@dataclass
class RunResult:
    """Everything a run leaves behind.

    ``state`` holds each service's committed tables (service -> table -> key -> row), ``history``
    the client operations, ``subscriptions`` the consumer groups that handle each event type.
    """

    scenario: Scenario
    seed: int
    trace: Trace
    history: list[ClientOp]
    state: dict[str, dict[str, dict[Hashable, Any]]]
    dead_letters: list[DeadLetter]
    subscriptions: dict[str, list[str]]
    phases: Phases
    samples: list[Sample]
    counters: dict[str, int]
    fault_windows: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0
    resources: dict[str, PoolUsage] = field(default_factory=dict)
    """Each bounded resource's usage (worker pools, connection pools), by name."""
    in_process: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """event type -> {group: the hosts of its process} for the groups of ``subscriptions`` that
    handle the type in the raising transaction (a stage of the migration)."""
    at_broker: dict[str, list[str]] | None = None
    """event type -> the groups of ``subscriptions`` subscribed to it at the broker (None: all of them)."""

    def subscribers(self, event_type: str, raised_by: str, published: bool = True) -> list[str]:
        """The groups that must handle an ``event_type`` raised by host ``raised_by``: those handling
        it in the raising transaction if ``raised_by`` is of their process, and, if the event went to
        the broker (``published``: not kept in its process because no group outside it subscribed
        when it was raised, ``event.raised``'s ``in_process``), those subscribed at the broker. A
        service moved out of a process raises events its former mates receive only through the
        broker; a group that subscribes at the broker later is owed nothing its process kept."""
        inline = self.in_process.get(event_type, {})
        every = self.subscriptions if self.at_broker is None else self.at_broker
        broker = every.get(event_type, ()) if published else ()
        return [group for group in self.subscriptions.get(event_type, [])
                if raised_by in inline.get(group, ()) or group in broker]

    @cached_property
    def trace_sha256(self) -> str:
        return self.trace.sha256()

    def table(self, service: str, table: str) -> dict[Hashable, Any]:
        return self.state.get(service, {}).get(table, {})
