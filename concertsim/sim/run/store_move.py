"""What every migration plan in motion shares, whichever service it moves
(:mod:`~concertsim.sim.run.point_migration`, :mod:`~concertsim.sim.run.queue_migration`,
:mod:`~concertsim.sim.run.concert_migration`): the plan's steps run in order and recorded, the
copy's snapshot of the moving tables, the wait for the change feeds to drain, the verify step that
compares the two stores, dual writes as a change feed, and, for a service that moves whole at its
cutover, the split-out host and the router that learns of each move ``propagation`` seconds late.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.sim.hosting.host import Handler, Host
from concertsim.sim.infrastructure.random_streams import sampler
from concertsim.sim.infrastructure.storage import INBOX, Database, Transaction
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.dual_write import DualWrite
from concertsim.sim.run.point_shift import ChangeApplier, ChangeFeed, ReplicaWrite

if TYPE_CHECKING:
    from concertsim.scenarios.infrastructure import ServiceSpec
    from concertsim.sim.run.system import System

__all__ = ["PARTY", "POLL", "StoreMove", "ServiceRouting", "DualWrites", "split_out_host", "compare_stores",
           "chained_route"]

PARTY = "migration"
"""The party a plan's own records (its steps, its verifications) are recorded under."""
POLL = 0.5
"""Seconds between two looks of a plan's step at what it waits for (a feed draining, events handled)."""


Route = Callable[[str, str, dict[str, Any]], str]
"""A router: (callee, endpoint, body) -> the host to call instead."""


class DualWrites(ChangeFeed):
    """Dual writes: each commit's changes sent to the other store once, by a request of its own."""

    def capture(self, tx: Transaction) -> None:
        before = len(self.entries)
        super().capture(tx)
        if len(self.entries) > before:
            self.source.spawn(self._send(self.entries[-1]))

    def _send(self, entry: tuple[int, Any]) -> Generator[simpy.Event, Any, None]:
        try:
            yield from self.source.call(self.target, self.endpoint, {"source": self.source.name, "changes": [entry]},
                                        None, retries=0)
        finally:
            self.shipped += 1

    def ship(self, resend: bool) -> Generator[simpy.Event, Any, None]:
        yield self.env.event()


class ServiceRouting:
    """Who owns a service that moves whole (the plan's decisions, at once) and where routers send
    its calls (the decisions ``propagation`` seconds old); ``old`` owns it until the first move."""

    def __init__(self, env: simpy.Environment, propagation: float, old: str) -> None:
        self.env = env
        self.propagation = propagation
        self.old = old
        self.decisions: list[tuple[float, str]] = []

    def owner(self) -> str:
        return self.decisions[-1][1] if self.decisions else self.old

    def routed(self) -> str:
        """The host a router sends the service's call to now."""
        seen = self.env.now - self.propagation
        host = self.old
        for at, decided in self.decisions:
            if at > seen:
                break
            host = decided
        return host

    def move(self, host: str) -> None:
        self.decisions.append((self.env.now, host))

    def route_calls(self, system: System, copy_endpoint: str) -> None:
        """Make every router send the service's calls where :meth:`routed` says, except the copy's
        own requests (``copy_endpoint``), which go to the store they name: the copy back to the old
        store goes to the old store."""

        def route(callee: str, endpoint: str, body: dict[str, Any]) -> str:
            if callee != self.old or endpoint == copy_endpoint:
                return callee
            return self.routed()

        for host in system.hosts.values():
            host.route = chained_route(route, host.route)


def chained_route(route: Route, before: Route | None) -> Route:
    """``route`` applied after ``before`` (the routing of a move made earlier in the run): each
    move reroutes only its own service's calls, so a chain of moves routes every moved service."""
    if before is None:
        return route
    return lambda callee, endpoint, body: route(before(callee, endpoint, body), endpoint, body)


def owned_row(table: str, key: Hashable, own_tables: tuple[str, ...], inbox_group: str) -> bool:
    """Whether a row of ``table`` is a moving service's: every row of its ``own_tables``, and its
    rows of the shared inbox table (keyed ``(group, event id)``) under ``inbox_group``."""
    if table == INBOX:
        return isinstance(key, tuple) and key[0] == inbox_group
    return table in own_tables


def split_out_host(system: System, name: str, spec: ServiceSpec, endpoints: dict[str, Handler]) -> Host:
    """A service's new home: its own host named ``name`` with an empty database (commit latency
    drawn from the stream ``storage/<name>``), registered with the system, serving ``endpoints``."""
    world = system.world
    scenario = world.scenario
    commit_latency = sampler(scenario.storage.commit_latency, world.rng(f"storage/{name}"))
    database = Database(name, world.env, commit_latency, scenario.storage.connections)
    host = Host(world, name, spec, database, scenario.design.publish, service=name)
    host.publisher, host.network, host.peers = DualWrite(system.broker, host), system.network, system.hosts
    host.route = system.hosts["gateway"].route  # every move made before this one routes its calls too
    system.hosts[name] = host
    system.replicas[name] = [host]
    host.endpoints.update(endpoints)
    return host


class StoreMove:
    """The steps a plan shares, for a subclass that wires one service's move. The subclass sets
    ``world``, ``env``, ``plan``, ``steps``, ``old`` and ``new`` (the two hosts), ``forward`` and
    ``backward`` (the change feeds between them), ``stopped`` (the plan was rolled back) and
    ``copying`` (with :meth:`_begin`), ``tables`` (the tables that move) and ``fenced`` (whether
    each store, by name, refuses its own writes to them); it gives which writes are the service's
    (``_touches``), its record of writes (``_witness``) and a method ``_<action>`` for each step it has
    beyond ``copy`` and ``verify``, ``_rollback`` among them. Its ``install`` wires its routing,
    then :meth:`_watch` es each store and calls :meth:`_start`."""

    world: World
    env: simpy.Environment
    plan: MigrationPlan
    steps: list[MigrationStep]
    old: Host
    new: Host
    forward: ChangeFeed
    backward: ChangeFeed
    stopped: bool
    copying: bool
    tables: tuple[str, ...]
    fenced: dict[str, bool]

    cut_over: bool
    rolled_back: bool

    def _begin(self, system: System, plan: MigrationPlan, old: Host, new: Host, *feed_args: Any,
               **feed_kwargs: Any) -> None:
        """Set what every plan keeps: the plan and its timed steps, the two hosts, the flags, and
        the change feeds both ways (dual writes if the plan captures so; ``feed_args`` and
        ``feed_kwargs`` say what they ship), idle until the copy starts."""
        self.world = system.world
        self.env = self.world.env
        self.plan = plan
        self.steps = plan.steps_for(self.world.scenario.workload.duration)
        self.old, self.new = old, new
        self.stopped = self.copying = self.cut_over = self.rolled_back = False
        self.after: StoreMove | None = None
        self.finished = self.env.event()
        feed = DualWrites if plan.capture == "dual_write" else ChangeFeed
        self.forward = feed(self.env, old, new.name, *feed_args, **feed_kwargs)
        self.backward = feed(self.env, new, old.name, *feed_args, **feed_kwargs)
        for f in (self.forward, self.backward):
            f.capturing = False
            f.traced = True

    def _watch(self, host: Host) -> None:
        """Put ``host``'s commits under the plan: its fence (``_guard``) and its record of the
        writes (``_witness``)."""
        assert host.db is not None
        host.db.commit_guards.append(partial(self._guard, host.name))
        host.db.commit_listeners.append(partial(self._witness, host.name))

    def _start(self, replicate: str) -> None:
        """Start the copy and the plan: each feed captures its store's commits and ships them from
        a daemon of its own (resending what was not acknowledged, with change capture and acks),
        each store applies what reaches its ``replicate`` endpoint, and the steps run."""
        resend = self.plan.capture == "cdc" and self.plan.acks
        for f in (self.forward, self.backward):
            assert f.source.db is not None
            f.source.db.commit_listeners.append(f.capture)
            f.source.daemon(f"replication:{f.source.name}", partial(f.ship, resend))
        self.old.endpoints[replicate] = ChangeApplier(self.env).replicate
        self.new.endpoints[replicate] = ChangeApplier(self.env).replicate
        self.env.process(self._run_plan())

    def _touches(self, tx: Transaction) -> bool:
        """Whether ``tx`` writes any of the moving service's rows."""
        raise NotImplementedError

    def _guard(self, store: str, tx: Transaction) -> str | None:
        """The write fence (``fence``): a fenced store (the old one from the cutover, the new one
        during a rollback) refuses every write of its own to the service's rows."""
        if isinstance(tx, ReplicaWrite) or not self.fenced[store] or not self._touches(tx):
            return None
        refused = f"{store} is fenced for the migration"
        self.world.record("migration.refused", store, None, reason=refused)
        return refused

    def _witness(self, store: str, tx: Transaction) -> None:
        raise NotImplementedError

    def moving_rows(self, tables: dict[str, dict[Hashable, Any]]) -> dict[str, dict[Hashable, Any]]:
        """The moving service's rows of a store's ``tables``, by table in the order of ``tables``
        (all of each table's rows; a service sharing a table overrides this)."""
        return {table: tables.get(table, {}) for table in self.tables}

    def _run_plan(self) -> Generator[simpy.Event, Any, None]:
        """Each step at its time, once the plan before this one in the chain (``after``) has ended;
        none if that plan did not leave its service cut over."""
        skipped = None
        if self.after is not None:
            yield self.after.finished
            if not self.after.cut_over:
                skipped = f"{self.after.plan.service}'s plan did not cut over"
        for index, step in enumerate(self.steps):
            if self.stopped or skipped:
                self._record(index, step, "skipped", reason=skipped or "the plan was rolled back")
                continue
            if step.at > self.env.now:
                yield self.env.timeout(step.at - self.env.now)
            yield from getattr(self, f"_{step.action}")(index, step)
        self.finished.succeed()

    def _record(self, index: int, step: MigrationStep, outcome: str, **data: Any) -> None:
        self.world.record("migration.step", PARTY, None, step=index, action=step.action, outcome=outcome,
                          service=self.plan.service, **data)

    def _copy(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """A snapshot of the moving rows into the new store; the change feeds capture from now."""
        assert self.old.db is not None and self.new.db is not None
        snapshot = ReplicaWrite(self.new.db)
        rows = 0
        for table, keyed in self.moving_rows(self.old.db.tables).items():
            for key, row in keyed.items():
                snapshot.put(table, key, copy.copy(row))
                rows += 1
        self.new.db.load(snapshot)
        self.copying = True
        self.forward.capturing = self.backward.capturing = True
        self._record(index, step, "done", rows=rows, capture=self.plan.capture)
        yield from ()

    def _group_lag(self, group: str, broker: Any) -> int:
        """Events ``group`` (the new store's consumer group) has not handled yet: behind its offsets
        on every topic it subscribes to (``broker`` Kafka-like: a plan needs ``broker.kind: kafka``)."""
        return sum(broker.lag(group, topic, partition)
                   for topic, groups in broker.subscriptions.items() if group in groups
                   for partition in range(self.world.scenario.broker.partitions))

    def _drained(self, *feeds: ChangeFeed, timeout: float) -> Generator[simpy.Event, Any, bool]:
        """Wait until ``feeds`` have nothing left to ship, at most ``timeout`` seconds; whether they drained."""
        deadline = self.env.now + timeout
        while any(f.backlog for f in feeds):
            if self.env.now >= deadline:
                return False
            yield self.env.timeout(POLL)
        return True

    def _verify(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Compare the stores' moving rows once the feeds drained (or ``verify_timeout`` passed);
        a mismatch rolls the plan back if ``rollback_on_mismatch``."""
        if not self.plan.verify:
            self._record(index, step, "skipped", reason="verification is off (migration.verify=false)")
            return
        caught_up = yield from self._drained(self.forward, self.backward, timeout=self.plan.verify_timeout)
        assert self.old.db is not None and self.new.db is not None
        mismatches, compared, sample = compare_stores(self.moving_rows(self.old.db.tables),
                                                      self.moving_rows(self.new.db.tables), self.tables)
        self._record(index, step, "passed" if not mismatches else "failed", rows=compared, mismatches=mismatches,
                     caught_up=caught_up, sample=sample[:3])
        self.world.record("migration.verified", PARTY, None, mismatches=mismatches, rows=compared,
                          service=self.plan.service)
        if mismatches and self.plan.rollback_on_mismatch:
            yield from self._rollback(index, MigrationStep(at=self.env.now, action="rollback"), trigger="verify")

    def _handed_back(self, index: int, step: MigrationStep, trigger: str, drained: bool, moved_back: int) -> None:
        """A rollback done: the old store owns the service again, takes writes and is copied from."""
        self.cut_over = False
        self.rolled_back = True
        self.fenced[self.old.name] = False
        self.forward.capturing = True
        self._record(index, step, "done", trigger=trigger, drained=drained, moved_back=moved_back)

    def backlog(self) -> int:
        """Changes not yet applied by the other store, either way (the run is not settled before 0)."""
        return self.forward.backlog + self.backward.backlog

    def _rollback(self, index: int, step: MigrationStep, trigger: str = "plan") -> Generator[simpy.Event, Any, None]:
        raise NotImplementedError

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """What the checks read of the move: the owner's view of the service's tables, each store's,
        and the truth they compare against."""
        raise NotImplementedError


def compare_stores(old: dict[str, dict[Hashable, Any]], new: dict[str, dict[Hashable, Any]],
                   tables: tuple[str, ...]) -> tuple[int, int, list[str]]:
    """(rows that differ, rows compared, a few of the differing rows) over ``tables``."""
    mismatches = compared = 0
    sample: list[str] = []
    for table in tables:
        old_rows, new_rows = old.get(table, {}), new.get(table, {})
        for key in [*old_rows, *(k for k in new_rows if k not in old_rows)]:
            compared += 1
            if old_rows.get(key) != new_rows.get(key):
                mismatches += 1
                if len(sample) < 5:
                    sample.append(f"{table}[{key!r}]")
    return mismatches, compared, sample
