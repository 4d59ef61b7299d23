"""Queue's migration out of what is left of the monolith, in motion (seed 9, the second stage):
one run carries a plan (``scenario.migration`` with ``service: queue``) at the ``point_split``
stage, under the workload and faults, while users wait in line.

- **Two stores.** The monolith's Queue keeps its tables (tokens, the waiting line, the line's
  state) in the monolith's database (the *old* store); the split-out Queue runs as host
  :data:`NEW_QUEUE` with an empty database (the *new* store) until the plan's ``copy``.
- **copy**, **verify** and **rollback** as for Point (:mod:`concertsim.sim.run.point_migration`):
  a snapshot of Queue's tables, then each store's commits to them shipped to the other
  (``queue.replicate``), the stores compared row by row.
- **cutover**: the waiting line is one ordered aggregate (a token's place is its issue number
  against the line's head), so it moves at once, never user by user. With ``fence`` the old store
  refuses every write to Queue's tables from then on; the plan waits for the copy to drain, then
  the new store owns the line, the old store's changes are no longer captured, and routers send
  Queue's calls to the new host ``propagation`` seconds later. The scheduled jobs (the activator
  and the expirer) and the handler of ReservationCompletedEvent move with the line: they act only
  on the store that owns it (``Host.serves``). Within the monolith that handler ran in the
  completing reservation's own transaction; from the cutover the event reaches the new Queue
  through the broker instead.

Records: ``migration.step``, ``migration.moved`` (each user's Queue calls to the new owner, at the
cutover or rollback), ``migration.verified``, ``migration.refused`` (a write the fence refused),
``migration.write`` (a store committed a write to Queue's tables it did not own), ``point.captured``
and ``point.replicated`` (the copy's log position and what was applied; the record kinds are the
copy's, whatever the service). ``result.state``: ``queue`` is the owner's view, ``queue_old`` and
``queue_new`` the stores, ``queue_migration`` what the checks compare against (every token either
store issued, and the owner at the end).
"""

from __future__ import annotations

from collections.abc import Generator, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models import queue
from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.storage import DELETED, Transaction
from concertsim.sim.messaging.relay import relay_name, relay_outbox
from concertsim.sim.run.point_shift import ReplicaWrite, subscribe_across
from concertsim.sim.run.store_move import PARTY, ServiceRouting, StoreMove, split_out_host
from concertsim.sim.services import queue as queue_service

if TYPE_CHECKING:
    from concertsim.sim.run.system import System

__all__ = ["QueueMigration", "OLD_QUEUE", "NEW_QUEUE", "QUEUE_REPLICATE", "QUEUE_TABLES", "ISSUED_TABLE",
           "OWNER_TABLE"]

OLD_QUEUE = "queue"
NEW_QUEUE = "queue_new"
QUEUE_REPLICATE = "queue.replicate"
QUEUE_TABLES: tuple[str, ...] = (queue.TOKENS, queue.USER_TOKENS, queue.WAITING, queue.STATE, queue.ACTIVE)
"""Queue's tables: what the change feeds ship and the stores are compared on."""
ISSUED_TABLE = "issued"
"""``state["queue_migration"][ISSUED_TABLE]``: token id -> (the store that issued it, its place in
line), for every token issued after the copy began."""
OWNER_TABLE = "owner"
"""``state["queue_migration"][OWNER_TABLE]``: {None: the store owning the waiting line at the end}."""


def new_queue_host(system: System) -> Host:
    """The split-out Queue: its own host and (empty) database, endpoints, relay and jobs."""
    scenario = system.world.scenario
    host = split_out_host(system, NEW_QUEUE, scenario.services.queue, queue_service.ENDPOINTS)
    if scenario.design.publish == "outbox":
        host.daemon(relay_name(NEW_QUEUE), partial(relay_outbox, host, system.broker, scenario.broker.relay_batch,
                                                   scenario.broker.relay_poll_interval, scenario.broker.relay_publish))
    for job_name, job in queue_service.jobs(host).items():
        host.daemon(f"job:{job_name}", job)
    return host


class QueueMigration(StoreMove):
    """The wiring of a Queue plan: the new Queue, the router, the copies, the fences and the plan's
    process."""

    tables = QUEUE_TABLES

    def __init__(self, system: System, plan: MigrationPlan) -> None:
        self._begin(system, plan, system.hosts[OLD_QUEUE], new_queue_host(system), QUEUE_TABLES, QUEUE_REPLICATE)
        self.users = system.world.scenario.workload.users
        self.routing = ServiceRouting(self.env, plan.propagation, OLD_QUEUE)
        self.fenced: dict[str, bool] = {OLD_QUEUE: False, NEW_QUEUE: False}
        self.issued: dict[str, tuple[str, int]] = {}

    @classmethod
    def install(cls, system: System, plan: MigrationPlan) -> QueueMigration:
        migration = cls(system, plan)
        migration.routing.route_calls(system, QUEUE_REPLICATE)
        for host in (migration.old, migration.new):
            host.serves = partial(migration._serves, host.name)
            migration._watch(host)
        subscribe_across(system, migration.new, queue_service, OLD_QUEUE)
        migration._start(QUEUE_REPLICATE)
        return migration

    # --- who owns the line -----------------------------------------------------------------------

    def _serves(self, store: str) -> bool:
        return self.routing.owner() == store

    def _touches(self, tx: Transaction) -> bool:
        return any(table in QUEUE_TABLES for table, _ in tx.writes)

    def _witness(self, store: str, tx: Transaction) -> None:
        """Commit listener: each token a store issued, and a write to Queue's tables by a store
        that does not own the line."""
        if isinstance(tx, ReplicaWrite) or not self.copying or not self._touches(tx):
            return
        for (table, key), row in tx.writes.items():
            if table == queue.TOKENS and row is not DELETED and key not in self.issued:
                self.issued[str(key)] = (store, row.seq)
        if self.routing.owner() != store:
            users = sorted({row.user_id for (table, _), row in tx.writes.items()
                            if table == queue.TOKENS and row is not DELETED})
            self.world.record("migration.write", store, None, users=users, cut_over=self.cut_over,
                              rolled_back=self.rolled_back)

    # --- the plan ---------------------------------------------------------------------------------

    def _move_line(self, host: str) -> int:
        """The waiting line to ``host``: recorded for each user, with the changes to the user's
        tokens the copy toward ``host`` had not shipped yet."""
        feed = self.forward if host == NEW_QUEUE else self.backward
        unshipped: dict[int, int] = {}
        for _, changes in feed.entries[feed.shipped:]:
            for table, _key, row in changes:
                if table == queue.TOKENS and row is not DELETED:
                    unshipped[row.user_id] = unshipped.get(row.user_id, 0) + 1
        self.routing.move(host)
        for user in range(1, self.users + 1):
            self.world.record("migration.moved", PARTY, None, user_id=user, to=host, pending=unshipped.get(user, 0))
        return self.users

    def _cutover(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Fence the old store, wait for the copy to drain, hand the line over. A copy that does
        not catch up within ``verify_timeout`` cancels the cutover, as for Point."""
        if self.plan.fence:
            self.fenced[OLD_QUEUE] = True
        drained = yield from self._drained(self.forward, timeout=self.plan.verify_timeout)
        if not drained:
            self.fenced[OLD_QUEUE] = False
            self._record(index, step, "failed", fenced=self.plan.fence, drained=False,
                         reason="the copy did not catch up in time: the switch was cancelled")
            return
        moved = self._move_line(NEW_QUEUE)
        self.cut_over = True
        self.forward.capturing = False
        self._record(index, step, "done", fenced=self.plan.fence, drained=drained, moved_at_cutover=moved)

    def _rollback(self, index: int, step: MigrationStep, trigger: str = "plan") -> Generator[simpy.Event, Any, None]:
        """Fence the new store and hand the line back. With ``catch_up``, once the new store owns
        the line, the switch back waits for the new store's changes to reach the old one; a copy
        back that does not catch up within ``verify_timeout`` cancels it as it cancels a cutover
        (Vitess's ReverseTraffic takes SwitchTraffic's timeout): the new store keeps the line and
        takes writes again, for the old one would give again the places the new one gave."""
        self.stopped = True
        owned = self.routing.owner() == NEW_QUEUE
        self.fenced[NEW_QUEUE] = True
        drained = not self.backward.backlog
        if self.plan.catch_up:
            drained = yield from self._drained(self.backward, timeout=self.plan.verify_timeout)
            if owned and not drained:
                self.fenced[NEW_QUEUE] = False
                self._record(index, step, "failed", trigger=trigger, drained=False,
                             reason="the copy back did not catch up in time: the switch back was cancelled")
                return
        back = self._move_line(OLD_QUEUE) if self.routing.owner() != OLD_QUEUE else 0
        self._handed_back(index, step, trigger, drained, back)

    # --- the finished run ---------------------------------------------------------------------------

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """``queue`` (Queue's tables as the owner holds them), ``queue_old``, ``queue_new`` and
        ``queue_migration`` (the tokens issued, the owner)."""
        assert self.old.db is not None and self.new.db is not None
        old_tables, new_tables = self.old.db.snapshot(), self.new.db.snapshot()
        owner = self.routing.owner()
        view = dict(old_tables)
        for table in QUEUE_TABLES:
            view[table] = dict((new_tables if owner == NEW_QUEUE else old_tables).get(table, {}))
        return {
            OLD_QUEUE: view, "queue_old": old_tables, NEW_QUEUE: new_tables,
            "queue_migration": {ISSUED_TABLE: dict(self.issued), OWNER_TABLE: {None: owner}},
        }
