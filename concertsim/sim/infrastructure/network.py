"""Synchronous calls between parties: latency, client timeouts, partitions, lost messages.

A call is two messages, a request and a reply, each with a sampled latency. Either can be lost:
to a partition, to a crashed callee, or to an injected message fault. The caller waits at most
``timeout`` and then gets :data:`TIMEOUT`, which is *unknown*: the request may have been lost, or
executed with its reply lost, and the caller cannot tell which (the ambiguous case of seed 5).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from functools import partial
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, Protocol

import simpy
from simpy.events import NORMAL, PENDING

from concertsim.sim.infrastructure.parties import service_of

if TYPE_CHECKING:
    from concertsim.sim.infrastructure.world import World

__all__ = ["Ok", "Failed", "Timeout", "TIMEOUT", "Reply", "Callee", "MessageFaults", "Network"]

BROKER_PARTY = "broker"  # the broker's name on the network (``concertsim.sim.messaging.kafka.BROKER``)


class Ok:
    """The callee executed the request; ``value`` is its answer."""

    __slots__ = ("value",)
    ok = True

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ok({self.value!r})"


class Failed:
    """The callee answered that it did nothing. ``transient`` failures (unavailable, a failed
    commit) may succeed when retried; domain refusals (``InsufficientPoints``) will not."""

    __slots__ = ("code", "message", "transient")
    ok = False

    def __init__(self, code: str, message: str = "", transient: bool = False) -> None:
        self.code = code
        self.message = message
        self.transient = transient

    def __repr__(self) -> str:
        return f"Failed({self.code!r})"


class Timeout:
    """No reply within the timeout: the outcome is unknown."""

    __slots__ = ()
    ok = False
    code = "timeout"

    def __repr__(self) -> str:
        return "TIMEOUT"


TIMEOUT = Timeout()
Reply = Ok | Failed | Timeout


class Callee(Protocol):
    """The party a request is delivered to, as the network sees it (a service's host,
    :class:`~concertsim.sim.hosting.host.Host`): ``serve`` runs the endpoint and returns the reply, in a
    process ``start`` starts at once, which calls ``then`` with the reply, or None if the callee
    crashed meanwhile (no reply is sent).
    ``service`` is the service it is a replica of, which the request is addressed to."""

    name: str
    service: str
    is_up: bool

    def start(self, work: Generator[simpy.Event, Any, Any], then: Callable[[Any], None]) -> simpy.Process: ...

    def serve(
        self, endpoint: str, body: dict[str, Any], trace_id: str | None, call_id: str
    ) -> Generator[simpy.Event, Any, Reply]: ...


class MessageFaults(Protocol):
    """What the network asks of the run's fault injector (:class:`~concertsim.sim.run.faults.FaultInjector`):
    whether any message fault is active now, and what becomes of one message (the arrival delays of
    its copies, none if lost, and whether later messages overtake it)."""

    message_faults_active: bool

    def transit(
        self, channel: str, source: str, destination: str, message_type: str, key: str, group: str, delay: float,
    ) -> tuple[list[float], bool]: ...


class Network:
    """Carries requests and replies between hosts.

    ``blocked`` holds directed (source, destination) pairs that a partition currently separates;
    the fault injector adds and removes them. ``faults`` may drop, duplicate or delay a message.
    """

    def __init__(
        self, world: World, latency: Callable[[], float], broker_latency: Callable[[], float]
    ) -> None:
        self.world = world
        self.env = world.env
        self.latency = latency
        self.broker_latency = broker_latency
        """the latency of messages to and from the broker (``broker.latency``)"""
        self.blocked: set[tuple[str, str]] = set()
        self.faults: MessageFaults | None = None
        self.calls = 0
        self._deadlines: list[tuple[float, int, simpy.Event]] = []
        """(deadline, call number, the caller's event) of every call not known to be answered"""
        self._timers: list[float] = []
        """when the events that time calls out are due"""

    def reachable(self, source: str, destination: str) -> bool:
        """Whether a partition separates the two parties; a partition cuts every replica of a
        service (``point#2`` is reachable when ``point`` is)."""
        if not self.blocked:
            return True
        return (service_of(source), service_of(destination)) not in self.blocked

    def transit_delays(
        self,
        channel: str,
        source: str,
        destination: str,
        message_type: str,
        key: str,
        group: str = "",
    ) -> list[float]:
        """How the network carries one message: one delay per copy delivered (none if lost).

        ``channel`` is one of ``request``, ``reply`` (synchronous calls), ``publish``, ``ack``,
        ``delivery``, ``offset_commit`` (the broker's traffic)."""
        return self.carry(channel, source, destination, message_type, key, group)[0]

    def carry(
        self,
        channel: str,
        source: str,
        destination: str,
        message_type: str,
        key: str,
        group: str = "",
        delay: float | None = None,
    ) -> tuple[list[float], bool]:
        """Like :meth:`transit_delays` (with ``delay`` instead of a sampled latency if given),
        also telling whether a reorder fault let later messages overtake this one."""
        if not self.reachable(source, destination):
            return [], False
        if delay is None:
            delay = self.broker_latency() if BROKER_PARTY in (source, destination) else self.latency()
        if self.faults is None or not self.faults.message_faults_active:
            return [delay], False
        return self.faults.transit(channel, source, destination, message_type, key, group, delay)

    def call(
        self,
        source: str,
        callee: Callee,
        endpoint: str,
        body: dict[str, Any],
        *,
        timeout: float,
        trace_id: str | None,
        key: str = "",
    ) -> Generator[simpy.Event, Any, Reply]:
        """Send ``body`` to ``callee.endpoint`` and wait for the reply or the timeout. The request
        is addressed to the callee's service (``to``); ``callee`` is the replica that receives it."""
        self.calls += 1
        env = self.env
        world = self.world
        service = callee.service
        call_id = world.next_id("call")
        outcome = env.event()
        world.record("call.send", source, trace_id, call=call_id, to=service, endpoint=endpoint, key=key)
        delays = self._transit("request", source, service, endpoint, key)
        if not delays:
            world.record("call.request_lost", source, trace_id, call=call_id, to=service)
        deadline = env._now + timeout
        single = len(delays) == 1
        for delay in delays:
            env.timeout(delay).callbacks.append(
                partial(self._arrive, source, callee, endpoint, body, outcome, call_id, trace_id, key, deadline, single)
            )
        self._expire_at(deadline, outcome)
        reply: Reply = yield outcome
        world.record(
            "call.return", source, trace_id, call=call_id, endpoint=endpoint, outcome="ok" if reply.ok else reply.code,
        )
        return reply

    def _transit(self, channel: str, source: str, destination: str, message_type: str, key: str) -> list[float]:
        """:meth:`transit_delays`, with the common case (no partition, no message fault) first."""
        faults = self.faults
        if not self.blocked and (faults is None or not faults.message_faults_active):
            if source == BROKER_PARTY or destination == BROKER_PARTY:
                return [self.broker_latency()]
            return [self.latency()]
        return self.carry(channel, source, destination, message_type, key)[0]

    # The rest of a call's life is callbacks rather than a process of its own: a request arrives
    # (a worker of the callee serves it), its reply travels back, the caller is woken.

    def _arrive(
        self, source: str, callee: Callee, endpoint: str, body: dict[str, Any], outcome: simpy.Event,
        call_id: str, trace_id: str | None, key: str, deadline: float, single: bool, _arrival: simpy.Event,
    ) -> None:
        if not callee.is_up:
            self.world.record("call.refused", callee.name, trace_id, call=call_id, reason="down")
            return
        callee.start(
            callee.serve(endpoint, body, trace_id, call_id),
            partial(self._answer, source, callee, endpoint, outcome, call_id, trace_id, key, deadline, single),
        )

    def _answer(
        self, source: str, callee: Callee, endpoint: str, outcome: simpy.Event, call_id: str,
        trace_id: str | None, key: str, deadline: float, single: bool, reply: Reply | None,
    ) -> None:
        if reply is None:  # the callee crashed while serving: no reply is sent
            return
        delays = self._transit("reply", callee.service, source, endpoint, key)
        if not delays:
            self.world.record("call.reply_lost", callee.name, trace_id, call=call_id)
            return
        env = self.env
        if single and outcome._value is PENDING and env._now + delays[0] < deadline:
            # The only copy of the request, answered in time: the caller's own event is scheduled
            # for the reply's arrival, instead of an arrival event that then triggers it.
            outcome._ok = True
            outcome._value = reply
            env.schedule(outcome, NORMAL, delays[0])
            return
        env.timeout(delays[0]).callbacks.append(
            partial(self._reply_arrives, source, outcome, reply, call_id, trace_id)
        )

    def _reply_arrives(
        self, source: str, outcome: simpy.Event, reply: Reply, call_id: str, trace_id: str | None,
        _arrival: simpy.Event,
    ) -> None:
        if outcome.triggered:
            self.world.record("call.late_reply", source, trace_id, call=call_id)
        else:
            outcome.succeed(reply)

    # Timeouts. Most calls are answered long before their timeout, so instead of an event per call
    # the network keeps the calls' deadlines in a heap and one event at the earliest deadline of a
    # call still unanswered; when it fires, it times out every unanswered call that is due and waits
    # for the next. A deadline is kept exactly (``now + timeout``, as a SimPy timeout computes it).

    def _expire_at(self, deadline: float, outcome: simpy.Event) -> None:
        heappush(self._deadlines, (deadline, self.calls, outcome))
        timers = self._timers
        if not timers or deadline < timers[0]:
            self._wake_at(deadline)

    def _wake_at(self, when: float) -> None:
        env = self.env
        heappush(self._timers, when)
        timer = simpy.Event(env)
        timer._ok = True
        timer._value = None
        timer.callbacks.append(self._expire_due)  # type: ignore[union-attr]
        heappush(env._queue, (when, NORMAL, next(env._eid), timer))  # type: ignore[attr-defined]

    def _expire_due(self, _timer: simpy.Event) -> None:
        now = self.env._now
        timers, pending = self._timers, self._deadlines
        while timers and timers[0] <= now:
            heappop(timers)
        while pending:
            deadline, _seq, outcome = pending[0]
            if outcome._value is not PENDING:  # answered
                heappop(pending)
            elif deadline <= now:
                heappop(pending)
                outcome.succeed(TIMEOUT)
            else:
                break
        if pending and (not timers or pending[0][0] < timers[0]):
            self._wake_at(pending[0][0])
