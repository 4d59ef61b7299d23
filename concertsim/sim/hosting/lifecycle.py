"""A host's life: up, or down after a crash until it restarts, or paused; and the processes that
die with it.

A crash interrupts everything the host is doing (:meth:`Lifecycle.spawn` and :meth:`Lifecycle.start`
register each process it runs): in-flight requests send no reply, uncommitted transactions
vanish, background loops (:meth:`Lifecycle.daemon`: outbox relay, consumers, jobs) stop and are
started afresh on restart. A pause freezes every process at its next step (:meth:`Lifecycle.awake`)
until it resumes. What the host does while it lives is :class:`~concertsim.sim.hosting.host.Host`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Self, TypeVar

import simpy
from simpy.events import PENDING

from concertsim.sim.infrastructure.tasks import Task

if TYPE_CHECKING:
    from concertsim.sim.hosting.shared_process import SharedProcess
    from concertsim.sim.infrastructure.world import World

__all__ = ["Lifecycle", "DaemonFactory"]

R = TypeVar("R")
DaemonFactory = Callable[[], Generator[simpy.Event, Any, None]]


class Lifecycle:
    """The life of the party ``name``: whether it is up (:meth:`crash`, :meth:`restart`) and not
    paused (:meth:`pause`, :meth:`resume`), and the processes that die with it (:meth:`spawn`,
    :meth:`start`, :meth:`daemon`)."""

    def __init__(self, world: World, name: str) -> None:
        self.world = world
        self.env = world.env
        self.name = name
        self.lifecycle_listeners: list[Callable[[Self], None]] = []
        """called after every crash and restart (the consumer group's coordinator listens)"""
        self.daemon_factories: dict[str, DaemonFactory] = {}
        self.daemons: dict[str, simpy.Process] = {}
        self.stopped_daemons: set[str] = set()
        self.inflight: dict[simpy.Process, None] = {}  # insertion-ordered: crashes interrupt in spawn order
        self.is_up = True
        self.paused = False
        """Frozen by a ``pause`` fault: it takes no step, answers nothing and sends no heartbeat
        until it resumes (:meth:`awake`)."""
        self._resumed: simpy.Event | None = None
        self.incarnation = 0
        self.colocation: SharedProcess | None = None
        """The process this service shares with others (a migration stage, seed 9), if any: the
        processes it starts are that process's."""

    def spawn(self, work: Generator[simpy.Event, Any, R]) -> simpy.Process:
        """Run ``work`` as a process that a crash interrupts: its value is the generator's return
        value, or None if a crash cut it short."""
        if self.colocation is not None:
            work = self.colocation.after_commit(work)
        process = self.env.process(self._guarded(work))
        self.inflight[process] = None
        process.callbacks.append(self._forget)
        return process

    def start(self, work: Generator[simpy.Event, Any, R], then: Callable[[R | None], None]) -> Task:
        """Like :meth:`spawn`, for work that nothing waits on but ``then``: it takes its first step
        now and ``then(value)`` is called the moment it ends (value None if a crash cut it short),
        without an event to start it or to end it (:class:`~concertsim.sim.infrastructure.tasks.Task`)."""
        if self.colocation is not None:
            work = self.colocation.after_commit(work)
        inflight = self.inflight

        def finished(task: Task) -> None:
            inflight.pop(task, None)
            then(task._value)

        task = Task(self.env, work, finished)  # a task ends with None when interrupted, as ``_guarded`` does
        if task._value is PENDING:
            inflight[task] = None
        return task

    def _forget(self, process: simpy.Event) -> None:
        self.inflight.pop(process, None)  # type: ignore[call-overload]

    @staticmethod
    def _guarded(work: Generator[simpy.Event, Any, R]) -> Generator[simpy.Event, Any, R | None]:
        try:
            return (yield from work)
        except simpy.Interrupt:
            return None

    def daemon(self, name: str, factory: DaemonFactory) -> None:
        """Register a background loop, started now if the host is up and after every restart."""
        self.daemon_factories[name] = factory
        if self.is_up:
            self._start_daemon(name)

    def _start_daemon(self, name: str) -> None:
        if name in self.stopped_daemons:
            return
        process = self.daemons.get(name)
        if process is None or not process.is_alive:
            self.daemons[name] = self.spawn(self.daemon_factories[name]())

    def stop_daemon(self, name: str) -> None:
        """Stop one background loop (an injected crash of a relay or consumer) until resumed."""
        self.stopped_daemons.add(name)
        process = self.daemons.pop(name, None)
        if process is not None and process.is_alive:
            process.interrupt("stopped")

    def resume_daemon(self, name: str) -> None:
        self.stopped_daemons.discard(name)
        if self.is_up and name in self.daemon_factories:
            self._start_daemon(name)

    def withdraw_daemon(self, name: str) -> None:
        """Stop a background loop for good: its work was handed to another replica."""
        process = self.daemons.pop(name, None)
        if process is not None and process.is_alive:
            process.interrupt("revoked")
        self.daemon_factories.pop(name, None)

    # --- lifecycle -------------------------------------------------------------------------------

    def crash(self) -> None:
        """Stop at once: in-flight work is lost, committed state is kept."""
        if not self.is_up:
            return
        self.is_up = False
        if self.paused:
            self.paused = False
            resumed, self._resumed = self._resumed, None
            if resumed is not None:
                resumed.succeed()
        self.world.record("host.crash", self.name, inflight=len(self.inflight))
        for process in list(self.inflight):
            if process.is_alive:
                process.interrupt("crash")
        self.daemons.clear()
        self._tell_listeners()

    def restart(self) -> None:
        if self.is_up:
            return
        self.is_up = True
        self.incarnation += 1
        self.world.record("host.restart", self.name, incarnation=self.incarnation)
        for name in self.daemon_factories:
            self._start_daemon(name)
        self._tell_listeners()

    def _tell_listeners(self: Self) -> None:
        for listener in self.lifecycle_listeners:
            listener(self)

    def pause(self) -> None:
        """Freeze (a GC pause, a frozen VM): every process of the host stops at its next step
        (:meth:`awake`) and carries on from there when :meth:`resume` is called, with what it had
        read before; a crash meanwhile ends the pause."""
        if not self.is_up or self.paused:
            return
        self.paused = True
        self._resumed = self.env.event()
        self.world.record("host.pause", self.name)

    def resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        resumed, self._resumed = self._resumed, None
        assert resumed is not None
        resumed.succeed()
        self.world.record("host.resume", self.name)

    def awake(self) -> Generator[simpy.Event, Any, None]:
        """Wait while the host is paused: every step that acts on the world (a commit, a call, a
        reply, a publish, an offset commit) passes here first (the hot paths test ``paused``
        before entering, which saves a generator per step)."""
        while self.paused and self._resumed is not None:
            yield self._resumed

