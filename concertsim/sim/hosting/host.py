"""A service host: runs one service's domain behind its endpoints, consumers and scheduled jobs.

A host has a bounded worker pool (requests queue for a worker, so load shows up as latency), a
database, and a lifecycle (:mod:`concertsim.sim.hosting.lifecycle`): *up*, or *down* after a crash
until it has restarted, or paused. A crash loses what is in flight; committed state survives
(seed 8: each service's own database). A service with several replicas has a host per replica,
sharing its database (:mod:`concertsim.sim.hosting.replicas`). A service that shares its process
with others (a migration stage, :mod:`concertsim.sim.hosting.shared_process`) hands its calls to
them, its transactions and the processes it starts to that process.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import simpy

from concertsim.models.errors import DomainError
from concertsim.models.events import Event, EventPayload
from concertsim.scenarios.schema import ServiceSpec
from concertsim.sim.hosting.lifecycle import DaemonFactory, Lifecycle
from concertsim.sim.infrastructure.network import TIMEOUT, Failed, Reply
from concertsim.sim.infrastructure.random_streams import sampler
from concertsim.sim.infrastructure.storage import CommitFailed, Database, Transaction, WriteConflict
from concertsim.sim.infrastructure.workers import WorkerPool

if TYPE_CHECKING:
    from concertsim.sim.hosting.replicas import Balancer
    from concertsim.sim.infrastructure.network import Network
    from concertsim.sim.infrastructure.world import World

__all__ = ["Host", "Handler", "EventWork", "Unavailable", "Publisher", "Membership", "DaemonFactory"]

R = TypeVar("R")
Handler = Callable[["Host", dict[str, Any], str | None], Generator[simpy.Event, Any, Reply]]
EventWork = Callable[[Transaction, float, Event], list[EventPayload]]
"""A service's handling of one event: reads and writes ``tx`` at time ``now``, returns the events
it raises. It may raise a domain error, which counts as a failed handling. A consumer runs it
(:mod:`concertsim.sim.messaging.consumer`), or a process that raises the event runs it in the same
transaction (:mod:`concertsim.sim.hosting.shared_process`)."""


class Publisher(Protocol):
    """How a host publishes an event straight to the broker after its commit, with dual writes
    (``design.publish: dual_write``, :class:`~concertsim.sim.messaging.dual_write.DualWrite`): True if the
    broker acknowledged it."""

    def publish(self, event: Event) -> Generator[simpy.Event, Any, bool]: ...


class Membership(Protocol):
    """What a replica's loops ask of the consumer group it is a member of
    (:class:`~concertsim.sim.messaging.membership.ServiceGroup`): whether an offset commit from ``replica``
    is applied, whether its leased loop may act on the lease (``what``: a publish, a mark, a saga
    adoption), whether a saga's ``driver`` is a member's incarnation, and whether stale requests
    are refused (``fencing``)."""

    fencing: bool

    def commit(self, replica: Host, group: str, topic: str, partition: int, offset: int) -> bool: ...

    def holds_lease(self, replica: Host, what: str) -> bool: ...

    def drives(self, driver: int | str) -> bool: ...


class Unavailable(Exception):
    """The host could not do the work now (commit failed, too many write conflicts); retriable."""


class Host(Lifecycle):
    """One party of the simulation that serves requests (:meth:`serve`), calls other hosts
    (:meth:`call`) and commits local transactions with the events they raise (:meth:`transact`),
    while its :class:`~concertsim.sim.hosting.lifecycle.Lifecycle` lets it.
    """

    def __init__(
        self,
        world: World,
        name: str,
        spec: ServiceSpec,
        database: Database | None,
        publish_mode: str = "outbox",
        service: str | None = None,
    ) -> None:
        super().__init__(world, name)
        self.service = service or name
        """the service this host is a replica of (``name`` is ``point#2`` when there are several)"""
        self.spec = spec
        self.db = database
        self.publish_mode = publish_mode
        self.publisher: Publisher | None = None
        """how the host publishes after its commits with dual writes"""
        self.network: Network | None = None
        self.peers: dict[str, Host] = {}
        self.balancers: dict[str, Balancer[Host]] = {}
        """service -> the load balancer of its replicas, for services with more than one"""
        self.workers = WorkerPool(self.env, spec.workers)
        rng = world.rng(f"service-time/{name}")
        self._service_time = sampler(spec.service_time, rng)
        self._endpoint_times = {ep: sampler(d, rng) for ep, d in spec.endpoint_times.items()}
        self.endpoints: dict[str, Handler] = {}
        self.membership: Membership | None = None
        """The consumer group this replica is a member of (a service of several replicas)."""
        self.slow_factor = 1.0
        self.clock_skew = 0.0
        self.conflict_retries = world.scenario.storage.conflict_retries
        self.route: Callable[[str, str, dict[str, Any]], str] | None = None
        """(callee, endpoint, body) -> the host to call instead: the router of a gradual traffic
        shift or a migration (:mod:`concertsim.sim.run.point_shift`), if any."""
        self.owns: Callable[[int], bool] | None = None
        """During a migration (:mod:`concertsim.sim.run.point_migration`): whether this host's
        store owns a user's rows now."""
        self.serves: Callable[[], bool] | None = None
        """During a migration that moves a whole service (:mod:`concertsim.sim.run.queue_migration`):
        whether this host's store owns the service's data now. Its scheduled jobs tick and its
        event handlers write only while it does (None: always)."""

    # --- time as this host sees it ---------------------------------------------------------------

    def clock(self) -> float:
        """This host's clock: simulated time plus any injected skew. Used for timestamps and for
        the host's own rules (hold expiry), as a real service would use its own clock."""
        return self.env.now + self.clock_skew

    # --- serving requests ------------------------------------------------------------------------

    def service_time(self, endpoint: str) -> float:
        draw = self._endpoint_times.get(endpoint, self._service_time)
        return draw() * self.slow_factor

    def serve(
        self, endpoint: str, body: dict[str, Any], trace_id: str | None, call_id: str
    ) -> Generator[simpy.Event, Any, Reply]:
        """Run ``endpoint`` on a worker. Domain errors become definite failures.

        The ``call.serve`` record, made when the reply leaves, says when the request arrived
        (``arrived_at``) and when a worker took it (``started_at``): the server's own view of the
        call, apart from the network's transit (``concertsim.metrics`` reads it)."""
        handler = self.endpoints[endpoint]
        env = self.env
        workers = self.workers
        arrived_at = env.now
        handed_over = workers.acquire()  # ``workers.take()`` inlined: a generator less per call
        if handed_over is not None:
            try:
                yield handed_over
            except BaseException:
                workers.abandon(handed_over)
                raise
        started_at = env.now
        try:
            yield env.timeout(self.service_time(endpoint))
            if self.paused:
                yield from self.awake()
            reply = yield from handler(self, body, trace_id)
            if self.paused:
                yield from self.awake()
        except DomainError as refusal:
            reply = Failed(refusal.code, refusal.message)
        except Unavailable as error:
            reply = Failed("unavailable", str(error), transient=True)
        finally:
            self.workers.release()
        self.world.record(
            "call.serve", self.name, trace_id, call=call_id, endpoint=endpoint,
            outcome="ok" if reply.ok else reply.code, arrived_at=arrived_at, started_at=started_at,
        )
        return reply

    def work_on_worker(self, label: str, work: Generator[simpy.Event, Any, R]) -> Generator[simpy.Event, Any, R]:
        """Run ``work`` on a worker of the pool after the service time of ``label``."""
        yield from self.workers.take()
        try:
            yield self.env.timeout(self.service_time(label))
            if self.paused:
                yield from self.awake()
            return (yield from work)
        finally:
            self.workers.release()

    # --- calling other hosts ---------------------------------------------------------------------

    def call(
        self,
        callee: str,
        endpoint: str,
        body: dict[str, Any],
        trace_id: str | None,
        *,
        key: str = "",
        timeout: float | None = None,
        retries: int | None = None,
    ) -> Generator[simpy.Event, Any, Reply]:
        """Call ``callee.endpoint`` synchronously, retrying a timeout or a transient failure with
        backoff. The request must be safe to repeat (the callee de-duplicates it, seed 4.2.3).
        Returns the last reply; a :data:`TIMEOUT` means the outcome is unknown."""
        if self.route is not None:
            callee = self.route(callee, endpoint, body)
        if self.colocation is not None:
            if callee in self.colocation.hosts:
                return (yield from self.colocation.call_inline(self, callee, endpoint, body, trace_id))
            yield from self.colocation.before_remote_call(self, trace_id)
        assert self.network is not None
        spec = self.world.scenario.network
        attempts = 1 + (spec.call_retries if retries is None else retries)
        reply: Reply = Failed("not-called")
        balancer = self.balancers.get(callee)
        for attempt in range(attempts):
            if attempt:
                yield self.env.timeout(spec.retry_backoff * 2 ** (attempt - 1))
            if self.paused:
                yield from self.awake()
            if balancer is None:
                reply = yield from self.network.call(
                    self.name, self.peers[callee], endpoint, body,
                    timeout=timeout or spec.call_timeout, trace_id=trace_id, key=key,
                )
            else:
                reply = yield from self._call_balanced(balancer, endpoint, body, trace_id, key,
                                                       timeout or spec.call_timeout)
            if reply.ok or (isinstance(reply, Failed) and not reply.transient):
                break
        if self.paused:
            yield from self.awake()  # a frozen process reads its reply, or notices the timeout, on resuming
        return reply

    def _call_balanced(
        self, balancer: Balancer[Host], endpoint: str, body: dict[str, Any], trace_id: str | None, key: str,
        timeout: float,
    ) -> Generator[simpy.Event, Any, Reply]:
        """One attempt of a call to the replica ``balancer`` picks (:mod:`concertsim.sim.hosting.replicas`)."""
        assert self.network is not None
        replica = balancer.pick(self.env.now)
        reply: Reply | None = None
        try:
            reply = yield from self.network.call(
                self.name, replica, endpoint, body, timeout=timeout, trace_id=trace_id, key=key,
            )
        finally:
            balancer.done(replica, reply is TIMEOUT, self.env.now)
        return reply

    # --- local transactions ----------------------------------------------------------------------

    def transact(
        self,
        work: Callable[[Transaction, float], tuple[R, list[EventPayload]]],
        trace_id: str | None,
        causation_id: str | None = None,
        label: str = "",
    ) -> Generator[simpy.Event, Any, R]:
        """Run ``work(tx, now)`` in a local transaction and commit it, with the events it raises.

        With the outbox, the events are written to the outbox in the same transaction (they will
        be published by the relay, at least once). With dual write, they are published straight to
        the broker after the commit: a crash or broker failure in between loses them (seed 6.2).
        ``work`` is re-run on a write conflict. Domain errors propagate; a failed commit raises
        :class:`Unavailable`. Either way nothing was written.
        """
        if self.colocation is not None:
            return (yield from self.colocation.transact(self, work, trace_id, causation_id, label))
        assert self.db is not None
        for _attempt in range(self.conflict_retries + 1):
            tx = self.db.begin()
            now = self.clock()
            result, payloads = work(tx, now)
            events = [self.wrap(p, now, trace_id, causation_id) for p in payloads]
            if self.publish_mode == "outbox":
                for event in events:
                    tx.add_outbox(event)
            if self.paused:
                yield from self.awake()
            try:
                yield from self.db.commit(tx)
            except WriteConflict as conflict:
                self.world.record("tx.conflict", self.name, trace_id, label=label, table=conflict.table,
                                  row=conflict.row)
                continue
            except CommitFailed as failure:
                self.world.record("tx.failed", self.name, trace_id, label=label)
                raise Unavailable(str(failure)) from None
            if not tx.is_empty:
                self.world.record(
                    "tx.commit", self.name, trace_id, label=label,
                    events=[e.event_id for e in events],
                )
            for event in events:
                self.world.record(
                    "event.raised", self.name, event.trace_id, event_id=event.event_id,
                    type=event.type, key=event.key, payload=event.payload.model_dump(),
                )
            if self.publish_mode == "dual_write":
                for event in events:
                    assert self.publisher is not None
                    acked = yield from self.publisher.publish(event)
                    if not acked:
                        self.world.record(
                            "publish.dropped", self.name, event.trace_id, event_id=event.event_id
                        )
            return result
        raise Unavailable(f"{self.name}: gave up after {self.conflict_retries + 1} write conflicts")

    def wrap(
        self, payload: EventPayload, now: float, trace_id: str | None, causation_id: str | None
    ) -> Event:
        rollout = self.world.scenario.schema_rollout()
        version = body = None
        if rollout is not None and rollout.shipped and rollout.event_type == payload.TYPE:
            # A deployment happens at a moment of the world, not of this host's clock: a skewed
            # clock must not upgrade the producer before the consumers the plan upgrades first.
            version = rollout.written_version(self.env.now)
            body = rollout.write(payload, version)
        return Event.wrap(
            payload,
            event_id=self.world.next_id("evt"),
            occurred_at=now,
            key=payload.partition_key(),
            trace_id=trace_id or "",
            causation_id=causation_id,
            version=version,
            body=body,
        )

