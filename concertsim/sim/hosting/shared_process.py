"""A process that runs several services: a monolith, or what remains of one during the migration
(seed 9, :mod:`concertsim.sim.hosting.topology`).

- **One database.** Its services keep their own tables (their names do not collide) in one
  :class:`~concertsim.sim.infrastructure.storage.Database`, with as many connections as theirs added up, one
  outbox and one relay (run by the process's first service).
- **One worker pool, one crash domain.** The services' hosts share one pool, as many workers as
  theirs added up; a fault aimed at one of them (crash, slow, clock skew, failed commits) strikes
  the whole process (``concertsim.sim.run.faults``).
- **Calls are function calls.** A call to a service of the same process runs the endpoint in the
  caller's process, after the endpoint's service time: no network, no timeout, no lost or late
  reply; a partition between two services of one process changes nothing.
- **One local transaction per request.** Every transaction a request's handling begins, its
  in-process calls' included, joins one unit of work that commits when the request is answered
  (Spring's ``@Transactional`` around a controller): in the monolith a payment and its point
  deduction commit together or not at all. A domain error that escapes the endpoint, or a crash,
  discards the whole unit; a step that fails inside it (a refused call) rolls back to before that
  step only. A write conflict runs the request again (as a transaction is re-run), up to
  ``storage.conflict_retries`` times; a unit that still cannot commit answers "unavailable" and
  wrote nothing. A call to *another* process first commits the unit so far, and each later step of
  the request commits on its own, as the design's services commit before they call out: once
  Point is split out, the deduction and the confirmation are two transactions (seed 4, problem
  1). Work that is no request (consumers, jobs) commits each transaction as before. A process
  a request starts (a payment saga's driver) begins once the request's unit has ended.
- **Events between its services are handled in the transaction that raises them**, by the same
  handlers a consumer would run (recorded as ``consumer.handled``), and events they raise in turn
  too: no outbox row, no broker, no consumer. An event another process subscribes to still goes
  through the outbox (or, with ``publish=dual_write``, straight to the broker after the commit).
  Events no other process subscribes to never leave the process.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import simpy

from concertsim.models.errors import DomainError
from concertsim.models.events import Event, EventPayload
from concertsim.sim.hosting.host import EventWork, Handler, Host, Unavailable
from concertsim.sim.infrastructure.network import Failed, Reply
from concertsim.sim.infrastructure.storage import CommitFailed, Database, Transaction, WriteConflict
from concertsim.sim.infrastructure.workers import WorkerPool

if TYPE_CHECKING:
    from concertsim.sim.infrastructure.world import World

__all__ = ["SharedProcess"]

R = TypeVar("R")


class _RunAgain(Exception):
    """The request's unit of work met a write conflict before anything of it left the process:
    run the request again from the start."""


_KEPT: dict[str, bool] = {"in_process": True}
"""What ``event.raised`` adds for an event its process kept from the broker (nothing otherwise)."""
_SENT: dict[str, bool] = {}


@dataclass(slots=True)
class _Unit:
    """One request's local transaction and what to record once it commits."""

    tx: Transaction
    labels: list[str] = field(default_factory=list)
    raised: list[tuple[str, Event]] = field(default_factory=list)
    """(service that raised it, event), in the order raised."""
    handled: list[tuple[str, str, Event]] = field(default_factory=list)
    """(service, group, event) handled in the transaction."""
    kept: set[str] = field(default_factory=set)
    """The events raised here that no group outside the process subscribed to when they were
    raised: handled in the transaction only, never sent to the broker."""
    settled: simpy.Event | None = None
    """Made when work waits for this unit's end: succeeds with whether it committed."""

    def settle(self, committed: bool) -> None:
        if self.settled is not None and not self.settled.triggered:
            self.settled.succeed(committed)


class SharedProcess:
    """Several services in one process: their hosts share this database, worker pool, crash
    domain and, per request, one transaction (see the module's docstring)."""

    def __init__(self, world: World, members: Sequence[str], database: Database, workers: WorkerPool) -> None:
        self.world = world
        self.env = world.env
        self.members = tuple(members)
        self.database = database
        self.workers = workers
        self.hosts: dict[str, Host] = {}
        self.inline: dict[str, list[tuple[str, EventWork]]] = {}
        """event type -> (group, work) of each subscriber in this process."""
        self.remote_interest: Callable[[str], bool] = lambda event_type: False
        """Whether a group of another process subscribes to an event type (the broker knows)."""
        self._units: dict[simpy.Process, _Unit] = {}

    @property
    def name(self) -> str:
        return "+".join(self.members)

    def admit(self, host: Host) -> None:
        """Make ``host`` one of this process's services."""
        host.db = self.database
        host.workers = self.workers
        host.colocation = self
        self.hosts[host.name] = host

    def handle_inline(self, group: str, event_type: str, work: EventWork) -> None:
        self.inline.setdefault(event_type, []).append((group, work))

    def in_one_transaction(self, handler: Handler) -> Handler:
        """``handler`` serving a request in one unit of work, or joining the unit of the request
        whose handling called it in-process."""

        def serve(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
            me = self.env.active_process
            if me in self._units:
                return (yield from handler(host, body, trace_id))
            for _attempt in range(host.conflict_retries + 1):
                self._units[me] = _Unit(self.database.begin())
                try:
                    reply = yield from handler(host, body, trace_id)
                except _RunAgain:
                    continue
                except BaseException:
                    unit = self._units.pop(me, None)
                    if unit is not None:
                        unit.settle(False)
                    raise
                unit = self._units.pop(me, None)
                if unit is None:
                    return reply  # it called out: each step since committed on its own
                outcome = yield from self._commit_unit(host, unit, trace_id)
                unit.settle(outcome == "committed")
                if outcome == "committed":
                    return reply
                if outcome == "failed":
                    break
            return Failed("unavailable", f"{self.name}: the request's commit failed", transient=True)

        return serve

    def before_remote_call(self, caller: Host, trace_id: str | None) -> Generator[simpy.Event, Any, None]:
        """Commit the request's unit of work before a call leaves the process; from then on each
        of the request's steps commits on its own, as in the design's services, which commit
        before they call out (a payment is marked started before Point is asked). A write
        conflict runs the request again (nothing of it has left the process yet); a failed commit
        raises :class:`~concertsim.sim.hosting.host.Unavailable`."""
        unit = self._units.pop(self.env.active_process, None)
        if unit is None:
            return
        outcome = yield from self._commit_unit(caller, unit, trace_id)
        unit.settle(outcome == "committed")
        if outcome == "conflict":
            raise _RunAgain()
        if outcome == "failed":
            raise Unavailable(f"{self.name}: the commit before calling out failed")

    def after_commit(self, work: Generator[simpy.Event, Any, R]) -> Generator[simpy.Event, Any, R]:
        """``work`` to run in a process of its own, started once the request's unit of work (if
        the spawning process has one) has ended: a process started from a request (a payment
        saga's driver) sees what the request committed, as work handed to an after-commit hook
        does. It runs even if the unit did not commit, and then finds nothing of it."""
        unit = self._units.get(self.env.active_process)
        if unit is None:
            return work
        if unit.settled is None:
            unit.settled = self.env.event()
        return self._when_settled(unit.settled, work)

    @staticmethod
    def _when_settled(settled: simpy.Event, work: Generator[simpy.Event, Any, R]) -> Generator[simpy.Event, Any, R]:
        yield settled
        return (yield from work)

    # --- calls between services of the process ---------------------------------------------------

    def call_inline(
        self, caller: Host, callee: str, endpoint: str, body: dict[str, Any], trace_id: str | None
    ) -> Generator[simpy.Event, Any, Reply]:
        """Call ``callee.endpoint`` as a function: its service time, then its handler, on the
        caller's worker and in the caller's transaction. Domain errors become definite failures."""
        target = self.hosts[callee]
        self.world.record("call.inline", caller.name, trace_id, to=callee, endpoint=endpoint)
        yield self.env.timeout(target.service_time(endpoint))
        try:
            return (yield from target.endpoints[endpoint](target, body, trace_id))
        except DomainError as refusal:
            return Failed(refusal.code, refusal.message)
        except Unavailable as error:
            return Failed("unavailable", str(error), transient=True)

    # --- transactions ----------------------------------------------------------------------------

    def transact(
        self,
        host: Host,
        work: Callable[[Transaction, float], tuple[R, list[EventPayload]]],
        trace_id: str | None,
        causation_id: str | None,
        label: str,
    ) -> Generator[simpy.Event, Any, R]:
        """:meth:`Host.transact` for a service of this process: join the request's unit of work if
        there is one, else commit a transaction of its own; either way, with the events it raises
        handled by this process's subscribers in the same transaction."""
        unit = self._units.get(self.env.active_process)
        if unit is not None:
            yield from ()
            point = unit.tx.savepoint()
            marks = len(unit.raised), len(unit.handled)
            try:
                result = self._run(host, unit, work, trace_id, causation_id)
            except BaseException:
                unit.tx.rollback_to(point)
                del unit.raised[marks[0]:], unit.handled[marks[1]:]
                raise
            unit.labels.append(label)
            return result
        return (yield from self._transact_alone(host, work, trace_id, causation_id, label))

    def _run(
        self, host: Host, unit: _Unit, work: Callable[[Transaction, float], tuple[R, list[EventPayload]]],
        trace_id: str | None, causation_id: str | None,
    ) -> R:
        """Run ``work`` in ``unit``'s transaction, then the handlers of the events it raises, and
        of theirs, breadth first; write the events another process subscribes to to the outbox."""
        now = host.clock()
        result, payloads = work(unit.tx, now)
        pending = [(host, host.wrap(p, now, trace_id, causation_id)) for p in payloads]
        while pending:
            raiser, event = pending.pop(0)
            unit.raised.append((raiser.name, event))
            for group, handle in self.inline.get(event.type, ()):
                subscriber = self.hosts[group]
                unit.handled.append((group, group, event))
                pending.extend(
                    (subscriber, subscriber.wrap(p, now, event.trace_id, event.event_id))
                    for p in handle(unit.tx, now, event)
                )
            if not self.remote_interest(event.type):
                unit.kept.add(event.event_id)
            elif host.publish_mode == "outbox":
                unit.tx.add_outbox(event)
        return result

    def _transact_alone(
        self, host: Host, work: Callable[[Transaction, float], tuple[R, list[EventPayload]]],
        trace_id: str | None, causation_id: str | None, label: str,
    ) -> Generator[simpy.Event, Any, R]:
        for _attempt in range(host.conflict_retries + 1):
            unit = _Unit(self.database.begin(), [label])
            result = self._run(host, unit, work, trace_id, causation_id)
            outcome = yield from self._commit_unit(host, unit, trace_id)
            if outcome == "conflict":
                continue
            if outcome == "failed":
                raise Unavailable(f"commit to {self.database.name} failed")
            return result
        raise Unavailable(f"{host.name}: gave up after {host.conflict_retries + 1} write conflicts")

    def _commit_unit(self, host: Host, unit: _Unit, trace_id: str | None) -> Generator[simpy.Event, Any, str]:
        """Commit ``unit``: ``committed``, ``conflict`` or ``failed``."""
        label = "+".join(unit.labels)
        try:
            yield from self.database.commit(unit.tx)
        except WriteConflict as conflict:
            self.world.record("tx.conflict", host.name, trace_id, label=label, table=conflict.table,
                              row=conflict.row)
            return "conflict"
        except CommitFailed:
            self.world.record("tx.failed", host.name, trace_id, label=label)
            return "failed"
        yield from self._committed(host, unit, trace_id)
        return "committed"

    def _committed(self, host: Host, unit: _Unit, trace_id: str | None) -> Generator[simpy.Event, Any, None]:
        """Record a committed unit as :meth:`Host.transact` records a transaction, with its inline
        handlings; with dual writes, publish what another process subscribes to."""
        world = self.world
        if not unit.tx.is_empty:
            world.record("tx.commit", host.name, trace_id, label="+".join(unit.labels),
                         events=[e.event_id for _, e in unit.raised])
        for raiser, event in unit.raised:
            world.record("event.raised", raiser, event.trace_id, event_id=event.event_id, type=event.type,
                         key=event.key, payload=event.payload.model_dump(),
                         **(_KEPT if event.event_id in unit.kept else _SENT))
        for service, group, event in unit.handled:
            world.record("consumer.handled", service, event.trace_id, group=group, event_id=event.event_id,
                         type=event.type, inline=True)
        if host.publish_mode == "dual_write":
            for _, event in unit.raised:
                if event.event_id in unit.kept:
                    continue
                assert host.publisher is not None
                acked = yield from host.publisher.publish(event)
                if not acked:
                    world.record("publish.dropped", host.name, event.trace_id, event_id=event.event_id)
