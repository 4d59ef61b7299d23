"""Which fault could have affected which operation: the one rule by which a fault excuses a broken
liveness promise (ARCHITECTURE.md: "A liveness promise may be excused only by a fault that could
have affected the operation judged").

An :class:`Operation` names what one judged operation depends on: its parties (the services on
its path, the gateway, the broker, the client), the synchronous messages it sends (gateway routes
and service endpoints, the ``message_type`` of the request and reply channels), the events it waits
for and the consumer groups whose handling of them it waits for, and its time span. A fault could
have affected it only if all three of these meet:

- **parties.** ``crash``, ``pause``, ``slow``, ``clock_skew`` and ``commit_failure`` strike a service
  (every replica, or one replica ``point#2``: the same service's work), the gateway or the broker; aimed
  at a service that shares a process with others (a migration stage, ``design.topology``) they
  strike every service of that process. ``relay:S`` stops the relay publishing S's events (its
  process's one relay), ``consumer:S`` S's consumer groups. A ``partition`` cuts messages between
  its two sides, so it matters only if both sides are parties.
- **messages.** A message fault (drop, duplicate, delay, reorder) matters only through the
  messages it actually struck (the trace's ``fault.strike`` records): a request or reply of an
  endpoint the operation calls; a publish or acknowledgement of an event from the topic of an
  event it waits for (a relay publishes its outbox in order, so one held-up event holds up the
  ones behind it); a delivery or offset commit to a group it waits for, from such a topic (a
  partition is consumed in order). A message fault that struck nothing affected nothing. A strike
  on a migration's copy (``point.replicate``, ``queue.replicate``, ``concert.replicate``, either
  way) touches every operation that calls the moving service: while a plan waits for the copy to
  drain, the store it fenced refuses the service's writes (a cutover fences the old store, a
  rollback the new one), so a stalled copy is an outage of the service.
- **time.** The fault's window (for a message fault: its first to its last relevant strike), from
  its start to its end (the heal phase if it lasted until then), extended by a recovery allowance
  derived from the scenario, then until the next sample that shows empty outboxes, no consumer
  lag and no event parked in a dead-letter topic (the fault's backlog drained). The allowance is
  what the fault itself adds (a crashed party's ``restart_time`` and, with replicas, the consumer
  group's ``broker.session_timeout`` and ``broker.rebalance_time``, also after a ``pause``; a delay's ``seconds``, a reorder's ``window``, a duplicate's
  ``gap``) and the time a call or a delivery in flight when it ended takes to finish: every
  attempt of a call (``network.call_timeout`` x (``call_retries`` + 1) with the backoff), a
  relay poll and a consumer fetch.

A fault that changes nothing is no fault: ``slow`` with factor at most 1, ``clock_skew`` of 0
seconds, ``commit_failure`` or a message fault at rate 0, a ``delay`` of 0 seconds.

Where the mapping is unsure it excuses (a replica's crash counts for every replica of the
service, a partition of a shared process for every service in it); it never excuses by a fault on
a service, a message or a topic the operation does not touch.
"""

from __future__ import annotations

import bisect
import weakref
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from concertsim.scenarios.fields import replica_of
from concertsim.scenarios.schema import FaultSpec
from concertsim.sim.hosting.topology import STAGES
from concertsim.sim.infrastructure.trace import Trace
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.system import SERVICE_MODULES, topic_name

__all__ = ["Operation", "FaultScope", "fault_scope", "PUBLISHER_OF", "changes_nothing"]

BROKER = "broker"
CLIENT = "client"
GATEWAY = "gateway"

PUBLISHER_OF: dict[str, str] = {
    **{event_type: service for service, module in SERVICE_MODULES.items() for event_type in module.PUBLISHES},
    **{topic_name(service): service for service in SERVICE_MODULES},
}
"""Event type (or topic name) -> the service whose outbox and topic carry it."""

_ADDED: dict[str, tuple[str, float]] = {
    "delay": ("seconds", 1.0), "reorder": ("window", 1.0), "duplicate": ("gap", 0.001),
}
"""Message fault kind -> the parameter (with its default in ``sim.run.faults``) by which it holds a
message back."""
_CALL_CHANNELS = ("request", "reply")
REPLICATE_SUFFIX = ".replicate"
"""A migration's copy: ``point.replicate``, ``queue.replicate``."""
_PUBLISH_CHANNELS = ("publish", "ack")
_CONSUME_CHANNELS = ("delivery", "offset_commit")


@dataclass(frozen=True)
class Operation:
    """What one judged operation depends on, from ``start`` to ``end`` (simulated seconds).

    ``parties``: services, ``gateway``, ``broker`` and ``client`` on its path; ``endpoints``: the
    message types of the synchronous calls it makes (gateway routes and service endpoints);
    ``events``: the event types it waits for, handled by ``groups`` (consumer groups)."""

    start: float
    end: float
    parties: frozenset[str]
    endpoints: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @property
    def publishers(self) -> frozenset[str]:
        """The services whose outbox, relay and topic carry the events it waits for."""
        return frozenset(PUBLISHER_OF[e] for e in self.events if e in PUBLISHER_OF)

    @property
    def all_parties(self) -> frozenset[str]:
        """Its parties, with the publishers and consumers of its events and the broker between them."""
        if not self.events:
            return self.parties
        return self.parties | self.publishers | self.groups | {BROKER}


def changes_nothing(spec: FaultSpec) -> bool:
    """Whether ``spec`` leaves the system exactly as it was (a fault only in name)."""
    params = spec.params
    if spec.kind == "slow":
        return float(params.get("factor", 10.0)) <= 1.0
    if spec.kind == "clock_skew":
        return float(params.get("seconds", 30.0)) == 0.0
    if spec.kind == "commit_failure":
        return float(params.get("rate", 1.0)) == 0.0
    if spec.kind in ("drop", "duplicate", "delay", "reorder"):
        if spec.match is not None and spec.match.rate == 0.0:
            return True
        return spec.kind == "delay" and float(params.get("seconds", 1.0)) == 0.0
    return False


@dataclass(frozen=True)
class _Strike:
    at: float
    channel: str
    source: str
    destination: str
    message_type: str
    group: str


class FaultScope:
    """A finished run's faults, ready to answer "which of them could have affected this
    operation" (:meth:`excusing`)."""

    def __init__(self, result: RunResult) -> None:
        # Weakly: the scope is cached under the run's trace in a WeakKeyDictionary, and a value
        # holding its key strongly would keep every run ever checked alive.
        self._result = weakref.ref(result)
        scenario = result.scenario
        self.scenario = scenario
        self._heal = result.phases.heal_at
        self._drained = [s.at for s in result.samples
                         if s.outbox_backlog == 0 and s.consumer_lag == 0 and s.dead_letters == 0]
        self._strikes: dict[int, list[_Strike]] = defaultdict(list)
        for record in result.trace.of_kind("fault.strike"):
            d = record.data
            self._strikes[d["index"]].append(_Strike(record.at, d["channel"], str(d["source"]),
                                                     str(d["destination"]), str(d["message_type"]),
                                                     str(d.get("group") or "")))
        network, broker = scenario.network, scenario.broker
        self._in_flight = (
            network.call_timeout * (network.call_retries + 1)
            + network.retry_backoff * (2 ** network.call_retries - 1)
            + broker.relay_poll_interval + broker.fetch_timeout
        )
        """Seconds a call or a delivery under way when a fault ends takes to finish."""
        self._stage = {name: members for members in STAGES[scenario.design.topology] for name in members}
        self._windows = sorted(result.fault_windows, key=lambda w: (w["start"], w["index"]))

    def made_for(self, result: RunResult) -> bool:
        """Whether this scope was built from ``result``."""
        return self._result() is result

    # --- the three tests -------------------------------------------------------------------------

    def excusing(self, operation: Operation) -> list[dict[str, Any]]:
        """The fault windows (as in ``RunResult.fault_windows``) that could have affected
        ``operation``, in the order they started."""
        found = []
        for window in self._windows:
            spec = self.scenario.faults[window["index"]]
            if changes_nothing(spec):
                continue
            span = self._span(window, spec, operation)
            if span is not None and span[0] <= operation.end and span[1] >= operation.start:
                found.append(window)
        return found

    def _span(self, window: dict[str, Any], spec: FaultSpec, operation: Operation) -> tuple[float, float] | None:
        """When ``spec`` could act on ``operation`` (its aftermath included), or None if it
        cannot touch it at all."""
        end = window["end"] if window.get("end") is not None else self._heal
        if spec.kind in ("drop", "duplicate", "delay", "reorder"):
            struck = [s for s in self._strikes.get(window["index"], ()) if self._touches(s, operation)]
            if not struck:
                return None
            start, end = struck[0].at, struck[-1].at
            added = _ADDED.get(spec.kind)
            if added is not None:
                end += max(0.0, float(spec.params.get(*added)))
        else:
            if not self._strikes_parties(spec, operation):
                return None
            start = window["start"]
            if spec.kind == "crash":
                end += self._restart_time(spec.target) + self._rebalance_allowance()
            elif spec.kind == "pause":
                end += self._rebalance_allowance()
        return start, self._settled_after(end + self._in_flight)

    def _settled_after(self, at: float) -> float:
        index = bisect.bisect_left(self._drained, at)
        return self._drained[index] if index < len(self._drained) else float("inf")

    # --- parties ---------------------------------------------------------------------------------

    def _process(self, name: str) -> frozenset[str]:
        """The services a fault aimed at ``name`` (a service or a replica) strikes."""
        replica = replica_of(name)
        service = replica[0] if replica is not None else name
        return frozenset(self._stage.get(service, (service,)))

    def _strikes_parties(self, spec: FaultSpec, operation: Operation) -> bool:
        parties = operation.all_parties
        target = spec.target
        if spec.kind == "partition":
            sides = target.split("->") if "->" in target else target.split("|")
            return all(self._process(side) & parties for side in sides)
        if spec.kind == "crash" and target.startswith("relay:"):
            return bool(self._process(target.split(":", 1)[1]) & operation.publishers)
        if spec.kind == "crash" and target.startswith("consumer:"):
            return bool(self._process(target.split(":", 1)[1]) & operation.groups)
        return bool(self._process(target) & parties)

    def _rebalance_allowance(self) -> float:
        """How long a replica that stopped leaves its partitions idle and then moves them: its
        session timeout and the rebalance's stop-the-world time (nothing without replicas: no
        consumer group coordinator is involved)."""
        broker = self.scenario.broker
        replicated = any(spec.replicas > 1 for _name, spec in self.scenario.services)
        return broker.session_timeout + broker.rebalance_time if replicated else 0.0

    def _restart_time(self, target: str) -> float:
        if target == BROKER:
            return self.scenario.broker.restart_time
        service = target.split(":", 1)[-1]
        replica = replica_of(service)
        service = replica[0] if replica is not None else service
        return getattr(self.scenario.services, service).restart_time

    # --- messages --------------------------------------------------------------------------------

    def _touches(self, strike: _Strike, operation: Operation) -> bool:
        if strike.channel in _CALL_CHANNELS:
            if strike.message_type.endswith(REPLICATE_SUFFIX):
                service = strike.message_type.removesuffix(REPLICATE_SUFFIX)
                return any(endpoint.startswith(f"{service}.") for endpoint in operation.endpoints)
            return strike.message_type in operation.endpoints
        publisher = PUBLISHER_OF.get(strike.message_type)
        if strike.channel in _PUBLISH_CHANNELS:
            return publisher in operation.publishers if publisher is not None else bool(
                self._process(_service_of(strike.source)) & operation.publishers
                or self._process(_service_of(strike.destination)) & operation.publishers
            )
        if strike.channel in _CONSUME_CHANNELS:
            if strike.group not in operation.groups:
                return False
            return publisher is None or publisher in operation.publishers
        return True


def _service_of(party: str) -> str:
    replica = replica_of(party)
    return replica[0] if replica is not None else party


_SCOPES: weakref.WeakKeyDictionary[Trace, FaultScope] = weakref.WeakKeyDictionary()


def fault_scope(result: RunResult) -> FaultScope:
    """The :class:`FaultScope` of ``result``, built on first use and shared by the run's checks."""
    scope = _SCOPES.get(result.trace)
    if scope is None or not scope.made_for(result):
        scope = _SCOPES[result.trace] = FaultScope(result)
    return scope
