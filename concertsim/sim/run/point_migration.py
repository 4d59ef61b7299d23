"""Point's migration out of the monolith, in motion (seed 9): one run carries a whole plan
(``scenario.migration``, :mod:`concertsim.scenarios.migration_plan`) under the workload and faults.

- **Two stores.** The monolith's Point keeps its tables in the monolith's database (the *old*
  store); the split-out Point runs as host :data:`NEW_POINT` with an empty database (the *new*
  store) until the plan's ``copy``.
- **copy**: a consistent snapshot of Point's tables is loaded into the new store, and from that
  commit on the old store's changes reach the new one (``capture: cdc``: its commit log tailed in
  commit order, batches re-sent until acknowledged with ``acks``; ``dual_write``: each commit
  written again to the other store by a request of its own, once). The new store's own changes
  flow back to the old store the same way, so a rollback finds them there.
- **shift**: a ramp moves the users, in the order of a stable hash of their id (a percentage
  rollout), so that ``ceil(n · elapsed / duration)`` have moved at each tick. With ``catch_up`` a
  tick moves users only when the copy has no backlog; with ``fence`` the old store refuses a
  moved user's writes from the move on. Routers learn of a move ``propagation`` seconds after it (a routing table
  pushed to the gateway and the monolith's callers).
- **verify** waits (up to ``verify_timeout``) for both copies to drain, then compares the stores
  row by row; a mismatch rolls the plan back with ``rollback_on_mismatch``.
- **cutover** fences the old store (with ``fence``: it refuses every write to Point's tables of
  its own), waits for the copy to drain, moves every user left and stops capturing the old store.
- **rollback** fences the new store, waits for its changes to reach the old store, and moves
  every user back; the old store's changes are captured again.

Records: ``migration.step`` (each step's outcome), ``point.captured`` (a commit entered a store's
change feed: the feed's length) beside ``point.replicated`` (the other store applied it), ``migration.moved`` (a user's move and the
changes of theirs the copy had not shipped yet), ``migration.verified``, ``migration.refused`` (a write a fence refused), ``migration.write``
(a store committed a user's write it did not own), ``migration.read`` (the version of a user's
account a Point operation answered from: how many ledger entries the store held for the user).
``result.state``: ``point`` is the owners' view, ``point_old`` and ``point_new`` the stores, and
``point_migration`` the truth the checks compare against (the last write of each row, by store).
"""

from __future__ import annotations

import copy
import math
from collections import ChainMap
from collections.abc import Generator, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models import points
from concertsim.models.errors import DomainError
from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.sim.hosting.host import Host
from concertsim.sim.hosting.shift_routing import NEW_POINT, OLD_POINT, _position
from concertsim.sim.infrastructure.network import Ok
from concertsim.sim.infrastructure.storage import DELETED, Transaction
from concertsim.sim.run.point_shift import (
    POINT_TABLES,
    REPLICATE,
    ReplicaWrite,
    new_point_host,
    subscribe_across,
    user_of,
)
from concertsim.sim.run.store_move import PARTY, POLL, StoreMove, chained_route

if TYPE_CHECKING:
    from concertsim.sim.run.system import System

__all__ = ["PointMigration", "MigrationRouting", "WRITES_TABLE", "KEYED_TABLE", "OWNERS_TABLE"]

WRITES_TABLE = "last_writes"
"""``state["point_migration"][WRITES_TABLE]``: (table, key) -> (store, row) of the last write."""
KEYED_TABLE = "keyed_writes"
"""``state["point_migration"][KEYED_TABLE]``: idempotency key -> the stores that applied it (wrote
its charge's or deduction's key row themselves, not by the copy)."""
OWNERS_TABLE = "owners"
"""``state["point_migration"][OWNERS_TABLE]``: user -> the store owning the user at the end
(key None: the owner of rows that name no user)."""
_READS = ("point.balance", "point.use", "point.charge")
_KEYED = (points.CHARGES_BY_KEY, points.USES_BY_KEY)


class MigrationRouting:
    """Who owns each user (the plan's decisions, at once) and where routers send them (the
    decisions ``propagation`` seconds old)."""

    def __init__(self, env: simpy.Environment, users: int, propagation: float) -> None:
        self.env = env
        self.propagation = propagation
        self.ranked = sorted(range(1, users + 1), key=lambda user_id: (_position(user_id), user_id))
        self.decisions: dict[int, list[tuple[float, str]]] = {}
        self.unowned_host = OLD_POINT
        """The owner of rows that name no user (refund tombstones)."""

    def owner(self, user_id: int) -> str:
        made = self.decisions.get(user_id)
        return made[-1][1] if made else OLD_POINT

    def routed(self, user_id: int) -> str:
        """The host a router sends ``user_id``'s Point calls to now."""
        seen = self.env.now - self.propagation
        host = OLD_POINT
        for at, decided in self.decisions.get(user_id, ()):
            if at > seen:
                break
            host = decided
        return host

    def move(self, user_id: int, host: str) -> None:
        self.decisions.setdefault(user_id, []).append((self.env.now, host))


class PointMigration(StoreMove):
    """The wiring of a plan: the new Point, the router, the copies, the fences and the plan's
    process."""

    tables = POINT_TABLES

    def __init__(self, system: System, plan: MigrationPlan) -> None:
        self._begin(system, plan, system.hosts[OLD_POINT], new_point_host(system, loaded=False))
        self.routing = MigrationRouting(self.env, system.world.scenario.workload.users, plan.propagation)
        self.fenced: dict[str, bool] = {OLD_POINT: False, NEW_POINT: False}
        self.broker = system.broker
        self.last_writes: dict[tuple[str, Hashable], tuple[str, Any]] = {}
        self.keyed_writes: dict[Hashable, list[str]] = {}

    @classmethod
    def install(cls, system: System, plan: MigrationPlan) -> PointMigration:
        migration = cls(system, plan)
        routing = migration.routing

        def route(callee: str, endpoint: str, body: dict[str, Any]) -> str:
            if callee == OLD_POINT and "user_id" in body:
                return routing.routed(body["user_id"])
            return callee

        for host in system.hosts.values():
            host.route = chained_route(route, host.route)
        for host in (migration.old, migration.new):
            host.owns = partial(migration._owns, host.name)
            migration._watch(host)
            for endpoint in _READS:
                host.endpoints[endpoint] = partial(migration._answered, host.endpoints[endpoint], endpoint)
        subscribe_across(system, migration.new)
        migration._start(REPLICATE)
        return migration

    # --- who owns what ---------------------------------------------------------------------------

    def _owns(self, store: str, user_id: int) -> bool:
        return self.routing.owner(user_id) == store

    def _users(self, db_tables: dict[str, dict[Hashable, Any]], tx: Transaction) -> tuple[list[int], bool]:
        """The users whose Point rows ``tx`` writes, and whether it writes a row naming no user."""
        written: dict[str, dict[Hashable, Any]] = {points.USES: {}, points.LEDGER: {}}
        for (table, key), row in tx.writes.items():
            if table in written and row is not DELETED:
                written[table][key] = row
        lookup = {table: ChainMap(rows, db_tables.get(table, {})) for table, rows in written.items()}
        users: dict[int, None] = {}
        unowned = False
        for (table, key), row in tx.writes.items():
            if table not in POINT_TABLES or row is DELETED:
                continue
            try:
                user = user_of(lookup, table, key, row)  # type: ignore[arg-type]
            except (KeyError, AttributeError, TypeError, IndexError):
                user = None
            if user is None:
                unowned = True
            else:
                users[user] = None
        return list(users), unowned

    def _guard(self, store: str, tx: Transaction) -> str | None:
        """The write fence (``fence``): a store refuses the writes of a user it no longer owns
        (moved by the ramp, the cutover or a rollback), and all its own writes to Point's tables
        once fenced as a whole (the old store from the cutover, the new one during a rollback)."""
        if isinstance(tx, ReplicaWrite):
            return None
        touches = any(table in POINT_TABLES for table, _ in tx.writes)
        if not touches:
            return None
        refused = None
        if self.fenced[store]:
            refused = f"{store} is fenced for the migration"
        elif self.plan.fence and self.copying:
            db = self.old.db if store == OLD_POINT else self.new.db
            assert db is not None
            users, _ = self._users(db.tables, tx)
            moved = [user for user in users if self.routing.owner(user) != store]
            if moved:
                refused = f"user {moved[0]} has moved off {store}"
        if refused is not None:
            self.world.record("migration.refused", store, None, reason=refused)
        return refused

    def _witness(self, store: str, tx: Transaction) -> None:
        """Commit listener: the last write of each Point row, and a write a store made for a user
        it did not own."""
        if isinstance(tx, ReplicaWrite) or not self.copying:
            return
        for (table, key), row in tx.writes.items():
            if table in POINT_TABLES:
                self.last_writes[(table, key)] = (store, row if row is DELETED else copy.copy(row))
            if table in _KEYED and row is not DELETED:
                applied = self.keyed_writes.setdefault(key, [])
                if store not in applied:
                    applied.append(store)
        db = self.old.db if store == OLD_POINT else self.new.db
        assert db is not None
        users, _ = self._users(db.tables, tx)
        strays = [user for user in users if self.routing.owner(user) != store]
        if strays:
            self.world.record("migration.write", store, None, users=strays, cut_over=self.cut_over,
                              rolled_back=self.rolled_back)

    def _answered(self, handler: Any, endpoint: str, host: Host, body: dict[str, Any],
                  trace_id: str | None) -> Generator[simpy.Event, Any, Any]:
        """``handler``, and a ``migration.read`` of the account version it answered from (a
        refusal such as too few points answers from the account too)."""
        try:
            reply = yield from handler(host, body, trace_id)
        except DomainError:
            self._read(host, endpoint, body, trace_id)
            raise
        if isinstance(reply, Ok):
            self._read(host, endpoint, body, trace_id)
        return reply

    def _read(self, host: Host, endpoint: str, body: dict[str, Any], trace_id: str | None) -> None:
        if not self.copying or "user_id" not in body:
            return
        assert host.db is not None
        user = body["user_id"]
        version = sum(1 for entry in host.db.tables.get(points.LEDGER, {}).values() if entry.user_id == user)
        self.world.record("migration.read", host.name, trace_id, user_id=user, endpoint=endpoint, version=version)

    # --- the plan ---------------------------------------------------------------------------------

    def _shift(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        self._record(index, step, "started", duration=step.duration)
        self.env.process(self._ramp(index, step))
        yield from ()

    def _ramp(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Move the users over ``step.duration`` from when the shift starts: a shift held back by
        a step before it (a verify waiting for the copy) still ramps, rather than moving at once
        every user its planned time has passed."""
        ranked = self.routing.ranked
        moved = 0
        waited = 0
        started = self.env.now
        while moved < len(ranked) and not self.stopped and not self.cut_over:
            elapsed = self.env.now - started
            target = min(len(ranked), math.ceil(len(ranked) * elapsed / step.duration))
            if target > moved:
                if self.plan.catch_up and self.forward.backlog:
                    waited += 1
                else:
                    for user in ranked[moved:target]:
                        self._move(user, NEW_POINT)
                    moved = target
            if moved < len(ranked):
                yield self.env.timeout(self.plan.shift_interval)
        if moved == len(ranked):
            self._record(index, step, "done", users=moved, ticks_waiting_for_copy=waited)

    def _move(self, user: int, host: str) -> None:
        pending = sum(1 for _, changes in self.forward.entries[self.forward.shipped:]
                      for table, key, row in changes if table == points.ACCOUNTS and key == user)
        self.routing.move(user, host)
        self.world.record("migration.moved", PARTY, None, user_id=user, to=host, pending=pending)

    def _cutover(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Fence the old store, wait for the copy to drain, move whoever is left. A copy that does
        not catch up within ``verify_timeout`` cancels the cutover: the old store takes writes
        again and nobody else moves (Vitess's SwitchWrites: "The migration will be cancelled on a
        timeout")."""
        if self.plan.fence:
            self.fenced[OLD_POINT] = True
        drained = yield from self._drained(self.forward, timeout=self.plan.verify_timeout)
        if not drained:
            self.fenced[OLD_POINT] = False
            self._record(index, step, "failed", fenced=self.plan.fence, drained=False,
                         reason="the copy did not catch up in time: the switch was cancelled")
            return
        left = [user for user in self.routing.ranked if self.routing.owner(user) != NEW_POINT]
        for user in left:
            self._move(user, NEW_POINT)
        self.routing.unowned_host = NEW_POINT
        self.cut_over = True
        self.forward.capturing = False
        self._record(index, step, "done", fenced=self.plan.fence, drained=drained, moved_at_cutover=len(left))

    def _rollback(self, index: int, step: MigrationStep, trigger: str = "plan") -> Generator[simpy.Event, Any, None]:
        """Send every user back to the old Point. With ``catch_up``, the users move back at an
        instant at which the new Point, still owning them and taking writes, has handled every
        event raised so far and its copy back has drained: an event the old Point skipped for a
        user the new one owned, reaching the new one once the user is the old one's again, would be
        handled by nobody (a refund lost). No such instant within ``verify_timeout``: the new Point
        is fenced and its copy back drained for up to as long again, as without the wait."""
        self.stopped = True
        if self.plan.catch_up:
            deadline = self.env.now + self.plan.verify_timeout
            while (self._events_unhandled() or self.backward.backlog) and self.env.now < deadline:
                yield self.env.timeout(POLL)
        self.fenced[NEW_POINT] = True
        drained = not self.backward.backlog
        if self.plan.catch_up and not drained:
            drained = yield from self._drained(self.backward, timeout=self.plan.verify_timeout)
        back = [user for user in self.routing.ranked if self.routing.owner(user) != OLD_POINT]
        for user in back:
            self._move(user, OLD_POINT)
        self.routing.unowned_host = OLD_POINT
        self._handed_back(index, step, trigger, drained, len(back))

    def _events_unhandled(self) -> int:
        """Events the new Point has not handled yet: behind its group's offsets, or still in the
        old process's outbox on their way to the broker."""
        assert self.old.db is not None
        return self._group_lag(NEW_POINT, self.broker) + self.old.db.outbox_backlog()

    # --- the finished run ---------------------------------------------------------------------------

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """``point`` (each user's rows from the store owning them), ``point_old``, ``point_new``
        and ``point_migration`` (the last writes and the owners)."""
        assert self.old.db is not None and self.new.db is not None
        old_tables, new_tables = self.old.db.snapshot(), self.new.db.snapshot()
        view = dict(old_tables)
        for table in POINT_TABLES:
            rows: dict[Hashable, Any] = {}
            for store, tables in ((OLD_POINT, old_tables), (NEW_POINT, new_tables)):
                for key, row in tables.get(table, {}).items():
                    try:
                        user = user_of(tables, table, key, row)
                    except (KeyError, AttributeError, TypeError, IndexError):
                        user = None
                    owner = self.routing.owner(user) if user is not None else self.routing.unowned_host
                    if owner == store or key not in rows:
                        rows[key] = row
            view[table] = rows
        owners: dict[Hashable, Any] = {user: self.routing.owner(user) for user in self.routing.ranked}
        owners[None] = self.routing.unowned_host
        return {
            OLD_POINT: view, "point_old": old_tables,
            "point_migration": {WRITES_TABLE: dict(self.last_writes), OWNERS_TABLE: owners,
                                KEYED_TABLE: {key: tuple(stores) for key, stores in self.keyed_writes.items()}},
        }

