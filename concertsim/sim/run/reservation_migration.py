"""Reservation's migration out of what is left of the monolith, in motion (seed 9, the fourth and
last stage: "Reservation last, with events"): one run carries a plan (``scenario.migration`` with
``service: reservation``) at the ``concert_split`` stage, where Reservation still shares the
monolith's process and database with Data Platform, every other service already apart. After the
cutover the system is the ``services`` stage: Reservation runs alone, on its own store.

- **Two stores.** The monolith's database (the *old* store) holds Reservation's tables
  (:data:`RESERVATION_TABLES`: the seats as Reservation sells them, reservations and their holds,
  payments, the hold indexes) and the inbox rows of the events Reservation handled; the split-out
  Reservation runs as host :data:`NEW_RESERVATION` with an empty database (the *new* store), its
  own outbox relay, its own jobs and consumers, until the plan's ``copy``.
- **copy**, **verify** as for the other services (:mod:`concertsim.sim.run.store_move`).
- **The outbox does not move.** Each store's relay publishes its own store's outbox rows, once:
  copied, an unpublished row would be published by both relays, and a row the old relay published
  would be published again by the new one. The new store's relay starts only once the old store's
  outbox holds no unpublished row after the cutover (the fenced old store adds none): the old
  relay publishes what the old store committed, the new one what the new store committed after
  it, so every event is published by one relay, and each seat's events in the order they were
  raised. Writes go on meanwhile; only the new store's events wait.
- **cutover**: a seat's row is every buyer's, so Reservation moves at once. With ``fence`` the old
  store refuses every write of its own to Reservation's tables, and, once the switch is made, every
  call to Reservation's endpoints (a router that has not learnt of the switch gets a refusal its
  caller retries, never a hold made on a store nobody reads). The hold-expiry sweeper acts only
  on the store that owns the data (``Host.serves``): one sweeper, on one store, at any time. A
  payment in flight at the switch whose confirmation the fenced store refuses stays pending on
  the new store, where the client's retry or the new sweeper ends it.
- **The inbox.** Reservation's handlers act only on the owning store, and only on an event its
  inbox rows (:data:`INBOX_GROUP`) do not hold, writing the row in the same transaction; those
  rows move with the data, so an event the old store handled is not handled again by the new one.
  The new Reservation's consumer group subscribes at the first cutover and reads every partition
  from its start: an event the old store had not handled by the switch is handled by the new one.
- **rollback**: with ``catch_up``, once the new store owns the data, the switch back waits until
  the new relay has published what the new store committed, the new group has handled every event,
  and the copy back has drained, within ``verify_timeout`` (else it is cancelled).
- **Data Platform** stays in the monolith's process. Until the cutover it collects Reservation's
  completions in the raising transaction; from the start it also consumes them from the broker,
  skipping those its inbox rows show it collected in-process, so the new store's completions reach
  it once.

Records: ``migration.step``, ``migration.moved``, ``migration.verified``, ``migration.refused`` (a
write the fence refused), ``migration.read_refused`` (a call a fenced store refused),
``migration.write`` (a store committed a change to Reservation's rows it did not own),
``point.captured`` and ``point.replicated`` (the copy). ``result.state``: ``reservation`` is the
owner's view, ``reservation_old`` and ``reservation_new`` the stores, ``reservation_migration`` the
last write of each row by the store that owned the data then (:data:`WRITES_TABLE`) and the owner
at the end (:data:`OWNER_TABLE`).
"""

from __future__ import annotations

import copy
from collections.abc import Generator, Hashable
from functools import partial
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models import reservations
from concertsim.models.events import Event, EventPayload
from concertsim.scenarios.migration_plan import MigrationPlan, MigrationStep
from concertsim.sim.hosting.host import EventWork, Handler, Host
from concertsim.sim.infrastructure.network import Failed, Reply
from concertsim.sim.infrastructure.storage import DELETED, INBOX, Transaction
from concertsim.sim.messaging.consumer import consume_partition, consumer_name
from concertsim.sim.messaging.relay import relay_name, relay_outbox
from concertsim.sim.run.point_shift import ReplicaWrite, consume_at_broker
from concertsim.sim.run.store_move import PARTY, POLL, ServiceRouting, StoreMove, owned_row, split_out_host
from concertsim.sim.services import data_platform as data_platform_service
from concertsim.sim.services import reservation as reservation_service

if TYPE_CHECKING:
    from concertsim.sim.run.system import System

__all__ = [
    "INBOX_GROUP",
    "NEW_RESERVATION",
    "OLD_RESERVATION",
    "OWNER_TABLE",
    "RESERVATION_REPLICATE",
    "RESERVATION_TABLES",
    "WRITES_TABLE",
    "ReservationMigration",
]

OLD_RESERVATION = "reservation"
NEW_RESERVATION = "reservation_new"
RESERVATION_REPLICATE = "reservation.replicate"
DOMAIN_TABLES: tuple[str, ...] = (reservations.SEATS, reservations.RESERVATIONS, reservations.PAYMENTS,
                                  reservations.OPEN_HOLDS, reservations.HOLDS_BY_KEY, reservations.USER_HOLDS,
                                  reservations.SALES_OPEN)
"""Reservation's own tables: what the fence guards and the checks compare."""
RESERVATION_TABLES: tuple[str, ...] = (*DOMAIN_TABLES, INBOX)
"""What the feeds ship and the stores are compared on (of :data:`INBOX`, only Reservation's rows)."""
INBOX_GROUP = reservation_service.HANDLED
"""The inbox rows of the events Reservation handled, on whichever store."""
DATA_PLATFORM = "data_platform"
WRITES_TABLE = "last_writes"
"""``state["reservation_migration"][WRITES_TABLE]``: (table, key) -> (store, row) of the last write
to a row of Reservation's by the store that owned the data when it committed."""
OWNER_TABLE = "owner"
"""``state["reservation_migration"][OWNER_TABLE]``: {None: the store owning the data at the end}."""


def reservation_row(table: str, key: Hashable) -> bool:
    """Whether a row of ``table`` is Reservation's: every row of its own tables, its inbox rows of INBOX."""
    return owned_row(table, key, DOMAIN_TABLES, INBOX_GROUP)


def reservation_tables(tables: dict[str, dict[Hashable, Any]]) -> dict[str, dict[Hashable, Any]]:
    """Reservation's rows of a store's ``tables``."""
    return {table: {key: row for key, row in tables.get(table, {}).items() if reservation_row(table, key)}
            for table in RESERVATION_TABLES}


def new_reservation_host(system: System) -> Host:
    """The split-out Reservation: its own host and (empty) database, endpoints and jobs (its relay
    and consumers start after the cutover)."""
    scenario = system.world.scenario
    host = split_out_host(system, NEW_RESERVATION, scenario.services.reservation, reservation_service.ENDPOINTS)
    for job_name, job in reservation_service.jobs(host).items():
        host.daemon(f"job:{job_name}", job)
    return host


class ReservationMigration(StoreMove):
    """The wiring of a Reservation plan: the new Reservation, the router, the copies, the fences,
    the handover of its events and the plan's process."""

    tables = RESERVATION_TABLES

    def moving_rows(self, tables: dict[str, dict[Hashable, Any]]) -> dict[str, dict[Hashable, Any]]:
        return reservation_tables(tables)  # Reservation's inbox rows share the inbox table with others

    def __init__(self, system: System, plan: MigrationPlan) -> None:
        self._begin(system, plan, system.hosts[OLD_RESERVATION], new_reservation_host(system), RESERVATION_TABLES,
                    RESERVATION_REPLICATE, keeps=reservation_row)
        self.system = system
        self.users = system.world.scenario.workload.users
        self.broker = system.broker
        self.routing = ServiceRouting(self.env, plan.propagation, OLD_RESERVATION)
        self.fenced: dict[str, bool] = {OLD_RESERVATION: False, NEW_RESERVATION: False}
        self.last_writes: dict[tuple[str, Hashable], tuple[str, Any]] = {}
        self.consuming = self.relaying = False

    @classmethod
    def install(cls, system: System, plan: MigrationPlan) -> ReservationMigration:
        migration = cls(system, plan)
        migration.routing.route_calls(system, RESERVATION_REPLICATE)
        for host in (migration.old, migration.new):
            host.serves = partial(migration._serves, host.name)
            migration._watch(host)
            for endpoint in reservation_service.ENDPOINTS:
                host.endpoints[endpoint] = partial(migration._call, host.name, host.endpoints[endpoint], endpoint)
        migration._collect_once()
        migration._start(RESERVATION_REPLICATE)
        return migration

    # --- who owns the data ---------------------------------------------------------------------------

    def _serves(self, store: str) -> bool:
        return self.routing.owner() == store

    def _collect_once(self) -> None:
        """Data Platform collects each completion once: in the raising transaction while the old
        store raises it (its inbox row written there), from the broker otherwise (skipping an event
        its inbox rows show collected)."""
        colocation = self.old.colocation
        assert colocation is not None, "at concert_split Reservation shares the monolith's process"
        platform = self.system.hosts[DATA_PLATFORM]
        for event_type, subscribers in colocation.inline.items():
            colocation.inline[event_type] = [
                (group, _once(group, work, skip=False) if group == DATA_PLATFORM else work)
                for group, work in subscribers
            ]
        consume_at_broker(self.system, platform, DATA_PLATFORM, {
            event_type: _once(DATA_PLATFORM, work, skip=True)
            for event_type, work in data_platform_service.subscriptions(platform).items()
            if event_type in reservation_service.PUBLISHES})

    def _relay_after_old(self) -> Generator[simpy.Event, Any, None]:
        """Start the new store's relay once the old store's outbox holds no unpublished row
        (``migration.relay_started``)."""
        assert self.old.db is not None
        while self.old.db.outbox_backlog():
            yield self.env.timeout(POLL)
        scenario = self.world.scenario
        self.new.daemon(relay_name(NEW_RESERVATION), partial(
            relay_outbox, self.new, self.broker, scenario.broker.relay_batch, scenario.broker.relay_poll_interval,
            scenario.broker.relay_publish))
        self.world.record("migration.relay_started", PARTY, None, store=NEW_RESERVATION)

    def _consume(self) -> None:
        """The new Reservation's consumer group: subscribed now, reading each partition from its
        start (its handlers skip what the inbox rows show handled)."""
        if self.consuming:
            return
        self.consuming = True
        broker, policy, partitions = self.broker, self.system.policy, self.world.scenario.broker.partitions
        by_topic: dict[str, dict[str, EventWork]] = {}
        for event_type, work in reservation_service.subscriptions(self.new).items():
            self.system.handlers[(NEW_RESERVATION, event_type)] = work
            by_topic.setdefault(broker.subscribe(NEW_RESERVATION, event_type), {})[event_type] = work
        for topic, handlers in by_topic.items():
            for partition in range(partitions):
                self.new.daemon(consumer_name(NEW_RESERVATION, topic, partition), partial(
                    consume_partition, self.new, broker, self.system.network, NEW_RESERVATION, topic, partition,
                    handlers, policy))

    def _touches(self, tx: Transaction) -> bool:
        return any(table in DOMAIN_TABLES for table, _ in tx.writes)

    def _witness(self, store: str, tx: Transaction) -> None:
        """Commit listener: the last write of each of Reservation's rows by the store that owns the
        data, and a write to its rows by a store that does not."""
        if isinstance(tx, ReplicaWrite) or not self.copying or not self._touches(tx):
            return
        if self.routing.owner() != store:
            users = sorted({row.user_id for (table, _), row in tx.writes.items()
                            if table == reservations.RESERVATIONS and row is not DELETED})
            self.world.record("migration.write", store, None, users=users, cut_over=self.cut_over,
                              rolled_back=self.rolled_back)
            return
        for (table, key), row in tx.writes.items():
            if table in DOMAIN_TABLES:
                self.last_writes[(table, key)] = (store, row if row is DELETED else copy.copy(row))

    def _call(self, store: str, handler: Handler, endpoint: str, host: Host, body: dict[str, Any],
              trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
        """A call to Reservation on ``store``: refused by a fenced store that no longer owns the
        data (the fence covers its reads and requests too), else served."""
        if self.fenced[store] and self.routing.owner() != store:
            self.world.record("migration.read_refused", store, trace_id, endpoint=endpoint,
                              reason=f"{store} no longer serves Reservation's data")
            return Failed("unavailable", f"{store} no longer serves Reservation's data", transient=True)
        return (yield from handler(host, body, trace_id))

    # --- the plan ---------------------------------------------------------------------------------

    def _move_all(self, host: str) -> int:
        """Reservation's data, calls, jobs and handlers to ``host``, recorded for each user."""
        self.routing.move(host)
        for user in range(1, self.users + 1):
            self.world.record("migration.moved", PARTY, None, user_id=user, to=host, pending=0)
        return self.users

    def _cutover(self, index: int, step: MigrationStep) -> Generator[simpy.Event, Any, None]:
        """Fence the old store, wait for the copy to drain, then switch: the new store takes the
        data, the calls, the jobs and the handlers; its consumers start, and its relay once the
        old store's outbox is published. A copy that does not catch up within ``verify_timeout``
        cancels the cutover."""
        if self.plan.fence:
            self.fenced[OLD_RESERVATION] = True
        drained = yield from self._drained(self.forward, timeout=self.plan.verify_timeout)
        if not drained:
            self.fenced[OLD_RESERVATION] = False
            self._record(index, step, "failed", fenced=self.plan.fence, drained=False,
                         reason="the copy did not catch up in time: the switch was cancelled")
            return
        moved = self._move_all(NEW_RESERVATION)
        self.cut_over = True
        self.forward.capturing = False
        self._consume()
        if not self.relaying and self.world.scenario.design.publish == "outbox":
            self.relaying = True
            self.env.process(self._relay_after_old())
        self._record(index, step, "done", fenced=self.plan.fence, drained=drained, moved_at_cutover=moved)

    def _relay_back(self) -> Generator[simpy.Event, Any, None]:
        """After a switch back, pause the old store's relay until the new store's outbox holds no
        unpublished row (``migration.relay_started`` when it resumes), so that the new store's
        events are published before the ones the old store raises from then on."""
        assert self.new.db is not None
        if not self.new.db.outbox_backlog():
            return
        relay = relay_name(OLD_RESERVATION)
        self.old.stop_daemon(relay)
        while self.new.db.outbox_backlog():
            yield self.env.timeout(POLL)
        self.old.resume_daemon(relay)
        self.world.record("migration.relay_started", PARTY, None, store=OLD_RESERVATION)

    def _events_unhandled(self) -> int:
        """Events the new Reservation has not handled yet: behind its group's offsets."""
        return self._group_lag(NEW_RESERVATION, self.broker)

    def _rollback(self, index: int, step: MigrationStep, trigger: str = "plan") -> Generator[simpy.Event, Any, None]:
        """Hand the data back to the old store. With ``catch_up``, once the new store owns it: wait
        for the new group to handle every event, then freeze the new store's writes, wait for it to
        handle the events that came meanwhile and for the copy back to drain, then switch (the
        freeze lasts the last stretch only, not a stalled delivery); not within ``verify_timeout``, the switch back is
        cancelled (the new store keeps the data). The old store's relay waits, as the new one did
        at the cutover, until the new store's outbox is published (:meth:`_relay_back`)."""
        self.stopped = True
        owned = self.routing.owner() == NEW_RESERVATION
        drained = not self.backward.backlog
        if self.plan.catch_up and owned:
            deadline = self.env.now + self.plan.verify_timeout
            while self._events_unhandled() and self.env.now < deadline:
                yield self.env.timeout(POLL)  # the new group catches up while the new store takes writes
            fenced_before = self.fenced[NEW_RESERVATION]
            self.fenced[NEW_RESERVATION] = True
            while self._events_unhandled() and self.env.now < deadline:
                yield self.env.timeout(POLL)
            drained = yield from self._drained(self.backward, timeout=max(0.0, deadline - self.env.now))
            drained = drained and not self._events_unhandled()
            if not drained:
                self.fenced[NEW_RESERVATION] = fenced_before
                self._record(index, step, "failed", trigger=trigger, drained=False,
                             reason="the new Reservation's events or its copy back did not catch up in time: the "
                             "switch back was cancelled")
                return
        elif self.plan.catch_up:
            drained = yield from self._drained(self.backward, timeout=self.plan.verify_timeout)
        self.fenced[NEW_RESERVATION] = self.plan.fence
        back = self._move_all(OLD_RESERVATION) if owned else 0
        if owned:
            self.env.process(self._relay_back())
        self._handed_back(index, step, trigger, drained, back)

    # --- the finished run ---------------------------------------------------------------------------

    def owner_host(self) -> Host:
        """The host whose store owns Reservation's data now."""
        return self.new if self.routing.owner() == NEW_RESERVATION else self.old

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """``reservation`` (Reservation's tables as the owner holds them, the rest of the old
        store's beside them), ``reservation_old``, ``reservation_new`` and ``reservation_migration``."""
        assert self.old.db is not None and self.new.db is not None
        old_tables, new_tables = self.old.db.snapshot(), self.new.db.snapshot()
        owner = self.routing.owner()
        view = dict(old_tables)
        for table in DOMAIN_TABLES:
            view[table] = dict((new_tables if owner == NEW_RESERVATION else old_tables).get(table, {}))
        return {
            OLD_RESERVATION: view, "reservation_old": old_tables, NEW_RESERVATION: new_tables,
            "reservation_migration": {WRITES_TABLE: dict(self.last_writes), OWNER_TABLE: {None: owner}},
        }


def _once(group: str, work: EventWork, skip: bool) -> EventWork:
    """``work`` writing ``group``'s inbox row of each event it handles; with ``skip``, not handling
    an event the row shows handled already."""

    def handle(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        if skip and tx.is_processed(group, event.event_id):
            return []
        raised = work(tx, now, event)
        tx.mark_processed(group, event.event_id)
        return raised

    return handle
