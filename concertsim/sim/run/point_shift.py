"""A gradual traffic shift to the split-out Point at the monolith stage (the strangler pattern, seed 9).

With ``design.point_shift`` = x (and ``design.topology: monolith``):

- **Two Point stores.** The monolith keeps its in-process Point and its tables in the monolith's
  database (the *old* store); the split-out Point service runs as host :data:`NEW_POINT`, with a
  database of its own (the *new* store), its own outbox and relay, reached over the network.
  Both stores are loaded with every account before the run (the migration's copy).
- **Routing by user bucket.** A router in front of Point's endpoints (:attr:`Host.route`, on every
  host) sends the calls of x % of the users
  (:class:`~concertsim.sim.hosting.shift_routing.ShiftRouting`) to the new service, over the network,
  and leaves the others on the monolith's path (a function call inside the monolith, or the
  gateway's call to the monolith). The store of a user's path *owns* the user's account; the
  compensation (ReservationFailedEvent) is acted on only by the owning Point
  (:mod:`concertsim.sim.hosting.shift_routing`). The new service's events go through its outbox and the
  broker; the monolith's groups that subscribe to Point's events (Reservation, for
  PointRefundedEvent) consume them from the broker too, and the monolith now sends
  ReservationFailedEvent to the broker, for the new service.
- **Replication both ways.** Each store's change feed (its committed writes to Point's tables,
  in commit order) is shipped to the other store by the Point that owns it
  (``point.replicate``), asynchronously, one batch at a time; the receiver applies a batch's
  changes past the last it applied, in one transaction. ``design.shift_replication``: ``acked``
  re-sends a batch until it is acknowledged (at least once, applied once); ``once`` sends each
  batch once, so a lost message is a change the other store never sees; ``none`` ships nothing.
  The feed and its cursor survive a crash of the shipping host (a database's log and its
  replication slot are durable).

What the checks read: ``result.table("point", ...)`` is the *owners' view*, each row as the store
owning its user holds it (a refund tombstone, which names no user, from whichever store holds it:
it is never changed once written), so the invariants over Point's data judge what the owners say.
``point_old`` and ``point_new`` hold the two stores as they are; ``point-stores-agree`` compares them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Generator, Hashable
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.models import points
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.hosting.shift_routing import NEW_POINT, OLD_POINT, ShiftRouting
from concertsim.sim.infrastructure.network import Failed, Ok, Reply
from concertsim.sim.infrastructure.random_streams import sampler
from concertsim.sim.infrastructure.storage import DELETED, CommitFailed, Database, Transaction
from concertsim.sim.messaging.consumer import consume_partition, consume_retries, consumer_name
from concertsim.sim.messaging.dual_write import DualWrite
from concertsim.sim.messaging.relay import relay_name, relay_outbox
from concertsim.sim.services import point as point_service

if TYPE_CHECKING:
    from concertsim.sim.run.system import System

__all__ = [
    "PointShift", "POINT_TABLES", "REPLICATE", "ChangeFeed", "ChangeApplier", "ReplicaWrite", "new_point_host",
    "subscribe_across", "owners_view", "user_of",
]

REPLICATE = "point.replicate"
POINT_TABLES: tuple[str, ...] = (
    points.ACCOUNTS, points.LEDGER, points.USES, points.USES_BY_KEY, points.USES_BY_RESERVATION,
    points.CHARGES_BY_KEY, points.TOMBSTONES, points.STREAMS, points.SNAPSHOTS,
)
"""Point's tables: what the change feeds ship and the stores are compared on."""
_BATCH = 20

Change = tuple[str, Hashable, Any]
"""(table, key, row) of one committed write; the row is :data:`DELETED` for a deletion."""


class ReplicaWrite(Transaction):
    """A transaction applying the other store's changes: the change feed does not ship it back."""

    __slots__ = ()


class ChangeFeed:
    """One store's change feed to the other store: its committed writes to the service's tables
    (``tables``, Point's by default), in commit order (entry ``i`` is change number ``i + 1``),
    and how far they were shipped (by requests to ``endpoint`` on the target)."""

    def __init__(self, env: simpy.Environment, source: Host, target: str,
                 tables: tuple[str, ...] = POINT_TABLES, endpoint: str = REPLICATE,
                 keeps: Callable[[str, Hashable], bool] | None = None) -> None:
        """``keeps(table, key)``: whether a row is the service's (None: every row of ``tables``;
        a service's inbox rows share one table with the other groups' of its database)."""
        self.env = env
        self.source = source
        self.target = target
        self.tables = tables
        self.keeps = keeps
        self.endpoint = endpoint
        self.entries: list[tuple[int, tuple[Change, ...]]] = []
        self.shipped = 0
        """Entries the shipper is done with: acknowledged (``acked``) or sent (``once``)."""
        self.grew = env.event()
        self.capturing = True
        """Whether commits are captured (a migration stops capturing the old store at cutover)."""
        self.traced = False
        """Whether each capture is recorded (``point.captured``: the log position it reached), so
        that the copy's lag behind the commit log can be read from the trace."""

    def capture(self, tx: Transaction) -> None:
        """The database's commit listener: keep the Point rows ``tx`` wrote, as committed."""
        if isinstance(tx, ReplicaWrite) or not self.capturing:
            return
        changes = tuple((table, key, row if row is DELETED else copy.copy(row))
                        for (table, key), row in tx.writes.items()
                        if table in self.tables and (self.keeps is None or self.keeps(table, key)))
        if not changes:
            return
        self.entries.append((len(self.entries) + 1, changes))
        if self.traced:
            self.source.world.record("point.captured", self.source.name, None, target=self.target,
                                     through=len(self.entries))
        if not self.grew.triggered:
            self.grew.succeed()

    @property
    def backlog(self) -> int:
        return len(self.entries) - self.shipped

    def ship(self, resend: bool) -> Generator[simpy.Event, Any, None]:
        """The shipper's loop, on the owning host: send the next batch to the other Point; with
        ``resend``, send it again (after a backoff) until it is acknowledged."""
        host = self.source
        backoff = host.world.scenario.network.retry_backoff
        while True:
            if self.shipped >= len(self.entries):
                if self.grew.triggered:
                    self.grew = self.env.event()
                yield self.grew
                continue
            batch = self.entries[self.shipped:self.shipped + _BATCH]
            reply = yield from host.call(self.target, self.endpoint, {"source": host.name, "changes": batch}, None,
                                         retries=0)
            if isinstance(reply, Ok):
                self.shipped = max(self.shipped, reply.value["through"])
            elif not resend:
                self.shipped += len(batch)
            else:
                yield self.env.timeout(backoff)


class ChangeApplier:
    """The receiving side of a feed: applies each change once, in order, one batch at a time."""

    def __init__(self, env: simpy.Environment) -> None:
        self.applied = 0
        self.lock = simpy.Resource(env, capacity=1)

    def replicate(self, host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
        assert host.db is not None
        with self.lock.request() as turn:
            yield turn
            fresh = [(seq, changes) for seq, changes in body["changes"] if seq > self.applied]
            if fresh:
                tx = ReplicaWrite(host.db)
                for _, changes in fresh:
                    for table, key, row in changes:
                        if row is DELETED:
                            tx.delete(table, key)
                        else:
                            tx.put(table, key, copy.copy(row))
                try:
                    yield from host.db.commit(tx)
                except CommitFailed as failure:
                    return Failed("unavailable", str(failure), transient=True)
                self.applied = fresh[-1][0]
                host.world.record("point.replicated", host.name, trace_id, source=body["source"],
                                  through=self.applied, changes=sum(len(c) for _, c in fresh))
            return Ok({"through": self.applied})


class PointShift:
    """The wiring of a shift: the new Point's host, the router and the two change feeds."""

    def __init__(self, routing: ShiftRouting, old: Host, new: Host, feeds: tuple[ChangeFeed, ...]) -> None:
        self.routing = routing
        self.old = old
        self.new = new
        self.feeds = feeds

    @classmethod
    def install(cls, system: System) -> PointShift:
        """Add the split-out Point to ``system`` (built at the monolith stage) and route to it."""
        world = system.world
        scenario = world.scenario
        design = scenario.design
        old = system.hosts[OLD_POINT]
        new = new_point_host(system)
        routing = ShiftRouting(design.point_shift, scenario.workload.users)

        def route(callee: str, endpoint: str, body: dict[str, Any]) -> str:
            if callee == OLD_POINT and "user_id" in body:
                return routing.host_for(body["user_id"])
            return callee

        for host in system.hosts.values():
            host.route = route
        subscribe_across(system, new)
        feeds: tuple[ChangeFeed, ...] = ()
        if design.shift_replication != "none":
            feeds = (ChangeFeed(world.env, old, NEW_POINT), ChangeFeed(world.env, new, OLD_POINT))
            for feed in feeds:
                assert feed.source.db is not None
                feed.source.db.commit_listeners.append(feed.capture)
                feed.source.daemon(f"replication:{feed.source.name}",
                                   partial(feed.ship, design.shift_replication == "acked"))
            old.endpoints[REPLICATE] = ChangeApplier(world.env).replicate
            new.endpoints[REPLICATE] = ChangeApplier(world.env).replicate
        return cls(routing, old, new, feeds)

    def backlog(self) -> int:
        """Changes not yet shipped to the other store (the run is not settled before it is 0)."""
        return sum(feed.backlog for feed in self.feeds)

    def result_state(self) -> dict[str, dict[str, dict[Hashable, Any]]]:
        """``point`` (the owners' view), ``point_old`` (the monolith's store as it is)."""
        assert self.old.db is not None and self.new.db is not None
        old_tables, new_tables = self.old.db.snapshot(), self.new.db.snapshot()
        view = dict(old_tables)
        for table in POINT_TABLES:
            if table in old_tables or table in new_tables:
                view[table] = owners_view(self.routing, table, old_tables, new_tables)
        return {OLD_POINT: view, "point_old": old_tables}


def new_point_host(system: System, loaded: bool = True) -> Host:
    """The split-out Point: its own host, database (loaded with every account, or empty when not
    ``loaded``: a migration copies them), endpoints, relay."""
    world = system.world
    scenario = world.scenario
    spec = scenario.services.point
    connections = scenario.storage.connections
    commit_latency = sampler(scenario.storage.commit_latency, world.rng(f"storage/{NEW_POINT}"))
    database = Database(NEW_POINT, world.env, commit_latency, connections)
    host = Host(world, NEW_POINT, spec, database, scenario.design.publish, service=NEW_POINT)
    host.publisher, host.network, host.peers = DualWrite(system.broker, host), system.network, system.hosts
    system.hosts[NEW_POINT] = host
    system.replicas[NEW_POINT] = [host]
    if loaded:
        wallet = database.begin()
        storage = point_service.account_storage(host)
        for user_id in range(1, scenario.workload.users + 1):
            points.open_account(wallet, user_id, 0.0, initial_balance=scenario.workload.initial_points,
                                storage=storage)
        database.load(wallet)
    host.endpoints.update(point_service.ENDPOINTS)
    if scenario.design.publish == "outbox":
        host.daemon(relay_name(NEW_POINT), partial(relay_outbox, host, system.broker, scenario.broker.relay_batch,
                                                   scenario.broker.relay_poll_interval, scenario.broker.relay_publish))
    return host


def subscribe_across(system: System, new: Host, service: ModuleType = point_service, old: str = OLD_POINT,
                     wrap: Callable[[EventWork], EventWork] | None = None) -> None:
    """The new host of ``service`` (Point by default) consumes what the service subscribes to from
    the broker (each handler passed through ``wrap``, if given); the monolith's groups that handle
    the service's events in-process consume the new host's from the broker too."""
    own = service.subscriptions(new)
    if wrap is not None:
        own = {event_type: wrap(work) for event_type, work in own.items()}
    wanted = [(new, new.name, own)]
    for (group, event_type), work in list(system.handlers.items()):
        if event_type in service.PUBLISHES and group != old:
            wanted.append((system.hosts[group], group, {event_type: work}))
    for host, group, handlers in wanted:
        consume_at_broker(system, host, group, handlers)


def consume_at_broker(system: System, host: Host, group: str, handlers: dict[str, EventWork]) -> None:
    """``group`` subscribes at the broker to ``handlers``' event types, consumed on ``host``: a
    consumer per partition of each topic (and of its retry topic, if the broker has one)."""
    broker, policy, partitions = system.broker, system.policy, system.world.scenario.broker.partitions
    by_topic: dict[str, dict[str, Any]] = {}
    for event_type, work in handlers.items():
        system.handlers[(group, event_type)] = work
        by_topic.setdefault(broker.subscribe(group, event_type), {})[event_type] = work
    for topic, topic_handlers in by_topic.items():
        for partition in range(partitions):
            host.daemon(consumer_name(group, topic, partition),
                        partial(consume_partition, host, broker, system.network, group, topic, partition,
                                topic_handlers, policy))
    if policy.retry_topic and by_topic:
        every = {t: w for topic_handlers in by_topic.values() for t, w in topic_handlers.items()}
        host.daemon(f"retry:{group}", partial(consume_retries, host, broker, group, every, policy))


def user_of(tables: dict[str, dict[Hashable, Any]], table: str, key: Hashable, row: Any) -> int | None:
    """The user a Point row belongs to (None for a refund tombstone, which names only a reservation)."""
    if table == points.STREAMS:
        return int(key[0])  # type: ignore[index]
    if table in (points.ACCOUNTS, points.SNAPSHOTS):
        return int(key)  # type: ignore[call-overload]
    if table in (points.LEDGER, points.USES):
        return int(row.user_id)
    if table == points.USES_BY_KEY:
        return int(tables[points.USES][row].user_id)
    if table == points.USES_BY_RESERVATION:
        return int(tables[points.USES][row[0]].user_id) if row else None
    if table == points.CHARGES_BY_KEY:
        return int(tables[points.LEDGER][row].user_id)
    return None


def owners_view(routing: ShiftRouting, table: str, old: dict[str, dict[Hashable, Any]],
                new: dict[str, dict[Hashable, Any]]) -> dict[Hashable, Any]:
    """``table`` with each row as the store owning its user holds it; a row only one store holds
    (a change not yet replicated, or a tombstone) from that store."""
    old_rows, new_rows = old.get(table, {}), new.get(table, {})
    view: dict[Hashable, Any] = {}
    for key, row in old_rows.items():
        if key in new_rows:
            user = user_of(old, table, key, row)
            if user is not None and routing.takes_new_path(user):
                row = new_rows[key]
        view[key] = row
    for key, row in new_rows.items():
        if key not in view:
            view[key] = row
    return view
