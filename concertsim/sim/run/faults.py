"""Failure injection: the one place where every fault of a run is made to happen.

A fault schedule is data (``FaultSpec``: at, kind, target, duration, match, params). The injector
turns each spec into a window of simulated time during which the fault holds, records its start and
end in the trace, and lifts every fault that is still active at the heal phase.

- *crash*: a host (or only its relay or consumers, or the broker) stops; it restarts at the end. A
  service's name strikes every replica of it, a replica's name (``point#2``) that one only.
- *partition*: messages between two parties, in one or both directions, are lost.
- *message faults* (drop, duplicate, delay, reorder): strike the messages of one channel that match
  a filter (type, key, group, source, destination), by occurrence (skip the first ``skip``, strike
  ``count``) and by rate. "A reply is lost" is ``drop`` on channel ``reply``.
- *slow*, *commit_failure*, *clock_skew*: change how one service behaves while the window lasts.
- *pause*: a host (a replica, or every replica of a service) is frozen for the window and then
  resumes where it was (:meth:`Host.pause`): a GC pause or a frozen VM, after which a replica
  evicted from its consumer group meanwhile is a zombie (:mod:`concertsim.sim.messaging.membership`).

A service that shares a process with others (a migration stage, ``design.topology``) shares its
fate: a crash, slowness or clock skew aimed at it strikes the whole process, a failing commit its
one database, a relay crash the process's one relay.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from concertsim.scenarios.schema import FaultSpec, MessageFilter
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.messaging.consumer import consumer_name
from concertsim.sim.messaging.kafka import BROKER
from concertsim.sim.messaging.relay import relay_name

if TYPE_CHECKING:
    from concertsim.sim.hosting.host import Host
    from concertsim.sim.infrastructure.world import World
    from concertsim.sim.run.system import System

__all__ = ["FaultInjector", "MessageFault"]


class MessageFault:
    """An active message fault and its occurrence counter."""

    __slots__ = ("spec", "index", "matched", "struck", "rng")

    def __init__(self, spec: FaultSpec, index: int, world: World) -> None:
        self.spec = spec
        self.index = index
        self.matched = 0
        self.struck = 0
        self.rng = world.rng(f"faults/{index}")

    def strikes(
        self, source: str, destination: str, message_type: str, key: str, group: str
    ) -> bool:
        match = self.spec.match or _MATCH_ALL
        if (
            (match.message_type is not None and match.message_type != message_type)
            or (match.key is not None and match.key != key)
            or (match.group is not None and match.group != group)
            or (match.source is not None and match.source not in (source, service_of(source)))
            or (match.destination is not None and match.destination not in (destination, service_of(destination)))
        ):
            return False
        occurrence = self.matched
        self.matched += 1
        if occurrence < match.skip:
            return False
        if match.count is not None and self.struck >= match.count:
            return False
        if match.rate < 1.0 and self.rng.random() >= match.rate:
            return False
        self.struck += 1
        return True


_MATCH_ALL = MessageFilter()


class FaultInjector:
    """Schedules a run's faults and answers the network's question "what happens to this message".

    ``message_faults_active`` is False whenever no message fault is active, so the network's hot
    path pays nothing for the feature when it is not used.
    """

    def __init__(self, world: World, system: System) -> None:
        self.world = world
        self.system = system
        self.env = world.env
        self.active_message_faults: dict[str, list[MessageFault]] = {}
        self.message_faults_active = False
        self._lifts: dict[int, Any] = {}
        self._windows: list[dict[str, Any]] = []
        self._healed = False
        system.network.faults = self

    # --- scheduling ------------------------------------------------------------------------------

    def schedule(self, specs: Sequence[FaultSpec]) -> None:
        for index, spec in enumerate(specs):
            self.env.process(self._window(index, spec))

    def _window(self, index: int, spec: FaultSpec) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(spec.at)
        if self._healed:
            return
        lift = self._start(index, spec)
        self._lifts[index] = lift
        window = {"index": index, "kind": spec.kind, "target": spec.target, "start": self.env.now, "end": None}
        self._windows.append(window)
        self.world.record("fault.start", "faults", None, index=index, kind=spec.kind, target=spec.target)
        duration = spec.duration
        if duration == 0 and spec.kind == "crash":
            duration = self._restart_time(spec.target)
        if duration == 0:
            return  # lasts until heal
        yield self.env.timeout(duration)
        self._end(index)

    def _end(self, index: int) -> None:
        lift = self._lifts.pop(index, None)
        if lift is None:
            return
        lift()
        for window in self._windows:
            if window["index"] == index and window["end"] is None:
                window["end"] = self.env.now
        self.world.record("fault.end", "faults", None, index=index)

    def heal_all(self) -> None:
        """Lift every active fault (the heal phase). Faults scheduled later never start."""
        for index in sorted(self._lifts):
            self._end(index)
        self._healed = True

    def windows(self) -> list[dict[str, Any]]:
        return [dict(w) for w in self._windows]

    # --- starting each kind; each returns the function that lifts it ------------------------------

    def _start(self, index: int, spec: FaultSpec) -> Any:
        kind = spec.kind
        if kind == "crash":
            return self._crash(spec.target)
        if kind == "partition":
            return self._partition(spec.target)
        if kind in ("drop", "duplicate", "delay", "reorder"):
            return self._message_fault(index, spec)
        hosts = self._hosts(spec.target)
        host = hosts[0]
        if kind == "slow":
            return _set_each(hosts, "slow_factor", float(spec.params.get("factor", 10.0)), 1.0)
        if kind == "pause":
            for paused in hosts:
                paused.pause()

            def resume() -> None:
                for paused in hosts:
                    paused.resume()

            return resume
        if kind == "clock_skew":
            return _set_each(hosts, "clock_skew", float(spec.params.get("seconds", 30.0)), 0.0)
        if kind == "commit_failure":
            rate = float(spec.params.get("rate", 1.0))
            rng = self.world.rng(f"faults/{index}")
            assert host.db is not None
            host.db.commit_fails = (lambda: True) if rate >= 1.0 else (lambda: rng.random() < rate)
            return lambda: setattr(host.db, "commit_fails", None)
        raise ValueError(f"unknown fault kind {kind!r}")

    def _crash(self, target: str) -> Any:
        if target == BROKER:
            broker = self.system.broker
            broker.crash()
            return broker.restart
        if target.startswith(("relay:", "consumer:")):
            role, service = target.split(":", 1)
            moved = self._moved(service)
            if moved is not None:  # the service's relay and consumers run on its new host now
                service = moved.name
            hosts = self.system.replicas[service]
            if role == "relay":
                # Services sharing a process share its relay, run by the first of them.
                colocation = hosts[0].colocation
                if colocation is not None:
                    service = colocation.members[0]
                    hosts = [self.system.hosts[service]]
                # With dual writes (no outbox) the service has no relay: the crash strikes nothing.
                stopped = [(h, [n for n in (relay_name(service),) if n in h.daemon_factories]) for h in hosts]
            else:
                prefix = consumer_name(service, "", 0).rsplit(":", 2)[0]
                stopped = [(h, [n for n in h.daemon_factories if n.startswith(prefix + ":")]) for h in hosts]
            for host, names in stopped:
                for name in names:
                    host.stop_daemon(name)
            names = [name for _host, names in stopped for name in names]
            self.world.record("daemon.crash", target, None, daemons=names)

            def resume() -> None:
                for host, names in stopped:
                    for name in names:
                        host.resume_daemon(name)
                self.world.record("daemon.restart", target, None, daemons=names)

            return resume
        hosts = self._hosts(target)
        for host in hosts:
            host.crash()

        def restart() -> None:
            for host in hosts:
                host.restart()

        return restart

    def _hosts(self, target: str) -> list[Host]:
        """The hosts a fault names: one replica (``point#2``), every replica of a service, a
        service sharing its process with others (a migration stage) and so every host of it, or,
        once a migration has cut a service over to its new host, that host: the service is there
        now, and its old host in the monolith serves it no more (its relay and consumers, for a
        ``relay:`` or ``consumer:`` target, likewise)."""
        moved = self._moved(target)
        if moved is not None:
            return [moved]
        host = self.system.hosts.get(target)
        if host is None:
            return self.system.replicas[target]
        return self.system.process_of(target) if host.colocation is not None else [host]

    def _moved(self, service: str) -> Host | None:
        """The new host of ``service`` once a migration has cut it over (until a rollback)."""
        return next((move.new for move in self.system.moves if move.plan.service == service and move.cut_over), None)

    def _restart_time(self, target: str) -> float:
        if target == BROKER:
            return self.world.scenario.broker.restart_time
        service = target.split(":", 1)[-1]
        return self._hosts(service)[0].spec.restart_time

    def _partition(self, target: str) -> Any:
        if "->" in target:
            a, b = target.split("->")
            cut = {(a, b)}
        else:
            a, b = target.split("|")
            cut = {(a, b), (b, a)}
        new = cut - self.system.network.blocked
        self.system.network.blocked |= new
        return lambda: self.system.network.blocked.difference_update(new)

    def _message_fault(self, index: int, spec: FaultSpec) -> Any:
        fault = MessageFault(spec, index, self.world)
        faults = self.active_message_faults.setdefault(spec.target, [])
        faults.append(fault)
        self.message_faults_active = True

        def lift() -> None:
            faults.remove(fault)
            self.message_faults_active = any(self.active_message_faults.values())

        return lift

    # --- the network's question ------------------------------------------------------------------

    def transit(
        self, channel: str, source: str, destination: str, message_type: str, key: str,
        group: str, delay: float,
    ) -> tuple[list[float], bool]:
        """The arrival delays of the copies of one message (empty: lost), and whether a reorder
        fault let later messages overtake it."""
        copies = [delay]
        overtaken = False
        for fault in self.active_message_faults.get(channel, ()):
            if not copies or not fault.strikes(source, destination, message_type, key, group):
                continue
            kind, params = fault.spec.kind, fault.spec.params
            if kind == "drop":
                copies = []
            elif kind == "duplicate":
                copies = copies + [copies[-1] + float(params.get("gap", 0.001))]
            elif kind == "delay":
                copies = [c + float(params.get("seconds", 1.0)) for c in copies]
            else:
                window = float(params.get("window", 1.0))
                copies = [c + fault.rng.uniform(0.0, window) for c in copies]
                overtaken = True
            self.world.record(
                "fault.strike", "faults", None, index=fault.index, kind=kind, channel=channel,
                source=source, destination=destination, message_type=message_type, key=key,
                group=group,
            )
        return copies, overtaken


def _set_each(hosts: list[Any], attribute: str, value: float, normal: float) -> Any:
    """Set ``attribute`` on every host of a process; returns what sets it back."""
    for host in hosts:
        setattr(host, attribute, value)

    def lift() -> None:
        for host in hosts:
            setattr(host, attribute, normal)

    return lift
