"""Concert's migration out of what is left of the monolith, in motion (seed 9, the third stage):
one run carries a plan (``scenario.migration`` with ``service: concert``) at the ``queue_split``
stage, under the workload and faults, while users buy.

- **Two stores.** The monolith's Concert keeps what it derived (the dates, the seat view and its
  versions, the free-seat counts, the sales tallies behind the ranking) in the monolith's database
  (the *old* store), and there projects Reservation's seat events in the raising transaction; the
  split-out Concert runs as host :data:`NEW_CONCERT` with an empty database (the *new* store)
  until the plan's ``copy``.
- **The inbox moves with the data.** With a plan, the projection records each event it applied in
  Concert's inbox (group :data:`INBOX_GROUP`, in the same transaction), on either store, and the
  copy carries those rows: the new Concert, which consumes the seat events from the broker
  (group ``concert_new``) from the start, applies an event only while it owns the projection and
  only if the inbox does not hold it, so an event the old store applied and the copy brought is
  not applied again, and one nobody applied before the switch is applied once.
- **copy**, **verify** and **rollback** as for Queue (:mod:`concertsim.sim.run.queue_migration`),
  over Concert's tables and its inbox rows (``concert.replicate``).
- **cutover**: the projection is one aggregate of every buyer's events, so it and every read move
  at once. With ``fence`` the old store refuses every write to Concert's rows from then on (the
  monolith's reservations that raise seat events are refused with them, as they share the
  transaction) and, once the switch is made, every read of Concert's data (Vitess's denied tables),
  so a router that has not learnt of the switch gets a refusal its caller retries, never the
  frozen view. The plan waits for the copy to drain, then the new store owns the projection, the
  old store's changes are no longer captured, and routers send Concert's calls to the new host
  ``propagation`` seconds later.

Records: ``migration.step``, ``migration.moved``, ``migration.verified``, ``migration.refused`` (a
write the fence refused), ``migration.read_refused`` (a read a fenced store refused),
``migration.write`` (a store committed a change to Concert's rows it did not own),
``migration.concert_read`` (each seat listing and seat check a store answered after the copy
began: the seats it showed free, or the seat it checked and whether it showed it free),
``point.captured`` and ``point.replicated`` (the copy). ``result.state``: ``concert`` is the
owner's view, ``concert_old`` and ``concert_new`` the stores, ``concert_migration`` the owner at
the end.
"""

from __future__ import annotations

from collections.abc import Generator, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models import concert
from concertsim.models.errors import DomainError, SeatUnavailable
from concertsim.models.events import Event, EventPayload
from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.sim.hosting.host import EventWork, Host, Handler
from concertsim.sim.infrastructure.network import Failed, Ok, Reply
from concertsim.sim.infrastructure.storage import INBOX, Transaction
from concertsim.sim.run.point_shift import ReplicaWrite, subscribe_across
from concertsim.sim.run.store_move import PARTY, POLL, ServiceRouting, StoreMove, owned_row, split_out_host
from concertsim.sim.services import concert as concert_service

if TYPE_CHECKING:
    from concertsim.sim.run.system import System

__all__ = ["ConcertMigration", "OLD_CONCERT", "NEW_CONCERT", "CONCERT_REPLICATE", "CONCERT_TABLES", "INBOX_GROUP",
           "OWNER_TABLE", "READ_ENDPOINTS"]

OLD_CONCERT = "concert"
NEW_CONCERT = "concert_new"
CONCERT_REPLICATE = "concert.replicate"
CONCERT_TABLES: tuple[str, ...] = (concert.DATES, concert.SEAT_VIEW, concert.VIEW_VERSIONS, concert.FREE_SEATS,
                                   concert.TALLIES, INBOX)
"""Concert's tables (of :data:`INBOX`, only Concert's rows): what the feeds ship and the stores are
compared on."""
INBOX_GROUP = "concert"
"""The inbox rows of the events Concert's projection applied, on whichever store."""
OWNER_TABLE = "owner"
"""``state["concert_migration"][OWNER_TABLE]``: {None: the store owning the projection at the end}."""
READ_ENDPOINTS = ("concert.dates", "concert.seats", "concert.ranking", "concert.check_seat")


def concert_row(table: str, key: Hashable) -> bool:
    """Whether a row of ``table`` is Concert's: every row of its own tables, its inbox rows of INBOX."""
    return owned_row(table, key, CONCERT_TABLES, INBOX_GROUP)


def concert_tables(tables: dict[str, dict[Hashable, Any]]) -> dict[str, dict[Hashable, Any]]:
    """Concert's rows of a store's ``tables``."""
    return {table: {key: row for key, row in tables.get(table, {}).items() if concert_row(table, key)}
            for table in CONCERT_TABLES}


def new_concert_host(system: System) -> Host:
    """The split-out Concert: its own host and (empty) database, and its endpoints."""
    return split_out_host(system, NEW_CONCERT, system.world.scenario.services.concert, concert_service.ENDPOINTS)


class ConcertMigration(StoreMove):
    """The wiring of a Concert plan: the new Concert, the router, the copies, the fences, the
    projection's handover and the plan's process."""

    tables = CONCERT_TABLES

    def moving_rows(self, tables: dict[str, dict[Hashable, Any]]) -> dict[str, dict[Hashable, Any]]:
        return concert_tables(tables)  # Concert's inbox rows share the inbox table with others

    def __init__(self, system: System, plan: MigrationPlan) -> None:
        self._begin(system, plan, system.hosts[OLD_CONCERT], new_concert_host(system), CONCERT_TABLES,
                    CONCERT_REPLICATE, keeps=concert_row)
        self.users = system.world.scenario.workload.users
        self.broker = system.broker
        self.routing = ServiceRouting(self.env, plan.propagation, OLD_CONCERT)
        self.fenced: dict[str, bool] = {OLD_CONCERT: False, NEW_CONCERT: False}

    @classmethod
    def install(cls, system: System, plan: MigrationPlan) -> ConcertMigration:
        migration = cls(system, plan)
        migration.routing.route_calls(system, CONCERT_REPLICATE)
        for host in (migration.old, migration.new):
            migration._watch(host)
            for endpoint in READ_ENDPOINTS:
                host.endpoints[endpoint] = partial(migration._read, host.name, host.endpoints[endpoint], endpoint)
        colocation = migration.old.colocation
        assert colocation is not None, "at queue_split Concert shares the monolith's process"
        for event_type, subscribers in colocation.inline.items():
            colocation.inline[event_type] = [
                (group, migration._projection(OLD_CONCERT, work) if group == OLD_CONCERT else work)
                for group, work in subscribers
            ]
        subscribe_across(system, migration.new, concert_service, OLD_CONCERT,
                         wrap=partial(migration._projection, NEW_CONCERT))
        migration._start(CONCERT_REPLICATE)
        return migration

    # --- who owns the projection -------------------------------------------------------------------

    def _projection(self, store: str, work: EventWork) -> EventWork:
        """``work`` (one of Concert's seat-event handlers) on ``store``: applied only while the
        store owns the projection and only if Concert's inbox does not hold the event, which it
        then does."""

        def project(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
            if self.routing.owner() != store or tx.is_processed(INBOX_GROUP, event.event_id):
                return []
            raised = work(tx, now, event)
            tx.mark_processed(INBOX_GROUP, event.event_id)
            return raised

        return project

    def _touches(self, tx: Transaction) -> bool:
        return any(concert_row(table, key) for table, key in tx.writes)

    def _witness(self, store: str, tx: Transaction) -> None:
        """Commit listener: a change to Concert's rows by a store that does not own them."""
        if isinstance(tx, ReplicaWrite) or not self.copying or not self._touches(tx):
            return
        if self.routing.owner() != store:
            self.world.record("migration.write", store, None, users=[], cut_over=self.cut_over,
                              rolled_back=self.rolled_back)

    def _read(self, store: str, handler: Handler, endpoint: str, host: Host, body: dict[str, Any],
              trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
        """A read of Concert's data on ``store``: refused by a fenced store that no longer owns
        the data (the fence covers reads too), else answered and, after the copy began, a seat
        listing or seat check recorded (``migration.concert_read``) with what it showed."""
        if self.fenced[store] and self.routing.owner() != store:
            self.world.record("migration.read_refused", store, trace_id, endpoint=endpoint,
                              reason=f"{store} no longer serves Concert's data")
            return Failed("unavailable", f"{store} no longer serves Concert's data", transient=True)
        began = self.env.now
        try:
            reply = yield from handler(host, body, trace_id)
        except SeatUnavailable:
            self._shown(store, endpoint, body, trace_id, began, free=[])
            raise
        except DomainError:
            raise
        if isinstance(reply, Ok):
            if endpoint == "concert.seats":
                self._shown(store, endpoint, body, trace_id, began, free=list(reply.value["available"]))
            elif endpoint == "concert.check_seat":
                self._shown(store, endpoint, body, trace_id, began, free=[body["seat_no"]])
        return reply

    def _shown(self, store: str, endpoint: str, body: dict[str, Any], trace_id: str | None, began: float,
               free: list[int]) -> None:
        if not self.copying:
            return
        seats = [body["seat_no"]] if endpoint == "concert.check_seat" else None
        self.world.record("migration.concert_read", store, trace_id, endpoint=endpoint, date_id=body["date_id"],
                          seats=seats, free=sorted(free), began=began)

    # --- the plan ---------------------------------------------------------------------------------

    def _move_all(self, host: str) -> int:
        """Concert's data and reads to ``host``, recorded for each user."""
        self.routing.move(host)
        for user in range(1, self.users + 1):
            self.world.record("migration.moved", PARTY, None, user_id=user, to=host, pending=0)
        return self.users

    def _cutover(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Fence the old store, wait for the copy to drain, hand the projection and the reads
        over. A copy that does not catch up within ``verify_timeout`` cancels the cutover."""
        if self.plan.fence:
            self.fenced[OLD_CONCERT] = True
        drained = yield from self._drained(self.forward, timeout=self.plan.verify_timeout)
        if not drained:
            self.fenced[OLD_CONCERT] = False
            self._record(index, step, "failed", fenced=self.plan.fence, drained=False,
                         reason="the copy did not catch up in time: the switch was cancelled")
            return
        moved = self._move_all(NEW_CONCERT)
        self.cut_over = True
        self.forward.capturing = False
        self._record(index, step, "done", fenced=self.plan.fence, drained=drained, moved_at_cutover=moved)

    def _events_unhandled(self) -> int:
        """Seat events the new Concert has not handled yet: in the monolith's outbox or behind its
        group's offsets."""
        assert self.old.db is not None
        return self._group_lag(NEW_CONCERT, self.broker) + self.old.db.outbox_backlog()

    def _rollback(self, index: int, step: MigrationStep, trigger: str = "plan") -> Generator[simpy.Event, Any, None]:
        """Hand the projection back to the old store. With ``catch_up``, once the new Concert owns
        it: freeze the old store's Concert writes (the seat events with them), wait for the new
        Concert to handle every seat event raised so far and for its changes to reach the old store,
        then switch (Vitess's ReverseTraffic stops writes and waits for the replication back); an
        event the new store had not handled when the old one took over would be applied by nobody.
        If they do not within ``verify_timeout`` the switch back is cancelled, as a cutover is (the
        new store keeps the projection, the old store's writes stay as the cutover left them)."""
        self.stopped = True
        owned = self.routing.owner() == NEW_CONCERT
        drained = not self.backward.backlog
        if self.plan.catch_up and owned:
            fenced_before = self.fenced[OLD_CONCERT]
            self.fenced[OLD_CONCERT] = True
            deadline = self.env.now + self.plan.verify_timeout
            while self._events_unhandled() and self.env.now < deadline:
                yield self.env.timeout(POLL)
            drained = yield from self._drained(self.backward, timeout=max(0.0, deadline - self.env.now))
            drained = drained and not self._events_unhandled()
            if not drained:
                self.fenced[OLD_CONCERT] = fenced_before
                self._record(index, step, "failed", trigger=trigger, drained=False,
                             reason="the new Concert's events or its copy back did not catch up in time: the switch "
                             "back was cancelled")
                return
        elif self.plan.catch_up:
            drained = yield from self._drained(self.backward, timeout=self.plan.verify_timeout)
        self.fenced[NEW_CONCERT] = self.plan.fence
        back = self._move_all(OLD_CONCERT) if owned else 0
        self._handed_back(index, step, trigger, drained, back)

    # --- the finished run ---------------------------------------------------------------------------

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """``concert`` (Concert's tables as the owner holds them), ``concert_old``, ``concert_new``
        and ``concert_migration`` (the owner)."""
        assert self.old.db is not None and self.new.db is not None
        old_tables, new_tables = self.old.db.snapshot(), self.new.db.snapshot()
        owner = self.routing.owner()
        view = dict(old_tables)
        for table in CONCERT_TABLES:
            if table != INBOX:
                view[table] = dict((new_tables if owner == NEW_CONCERT else old_tables).get(table, {}))
        return {
            OLD_CONCERT: view, "concert_old": old_tables, NEW_CONCERT: new_tables,
            "concert_migration": {OWNER_TABLE: {None: owner}},
        }
