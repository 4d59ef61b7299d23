"""A bounded pool of servers (a host's workers, a database's connections) that measures itself.

Like ``simpy.Resource`` with FIFO waiting, but taking a free server costs no event at all: on the
simulation's hot path most requests find a server idle, and the two events per request a Resource
schedules (request, release) were a measurable share of the cost of a simulated call. Measuring
costs no event either: the pool integrates its busy servers and its queue length over time at each
change, in total and per second of simulated time.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

__all__ = ["WorkerPool", "PoolUsage"]


@dataclass(slots=True)
class PoolUsage:
    """What a pool did over a run: busy server-seconds and queued request-seconds (in total and
    per whole second of simulated time), and the waits of the requests that had to queue."""

    capacity: int
    busy_area: float = 0.0
    queue_area: float = 0.0
    acquisitions: int = 0
    waits: int = 0
    wait_total: float = 0.0
    wait_max: float = 0.0
    queue_max: int = 0
    busy_by_second: dict[int, float] = field(default_factory=dict)
    queue_by_second: dict[int, float] = field(default_factory=dict)

    def utilisation(self, elapsed: float) -> float:
        """Mean share of the servers busy over ``elapsed`` seconds."""
        return self.busy_area / (self.capacity * elapsed) if elapsed > 0 else 0.0


class WorkerPool:
    """``acquire()`` takes a server: it returns None when one was free, or an event that fires
    when one is handed over (first come, first served); ``take()`` is the same as a generator that
    waits for it. Every acquisition ends with ``release()``; a waiter that gives up (its process
    was interrupted) calls ``abandon(event)`` instead.
    ``usage`` holds the measurements, exact up to the last change (see :meth:`settle`)."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.waiting: deque[tuple[simpy.Event, float]] = deque()
        self.usage = PoolUsage(capacity)
        self._since = env.now

    def acquire(self) -> simpy.Event | None:
        if self.env._now > self._since:
            self._account()
        self.usage.acquisitions += 1
        if self.free and not self.waiting:
            self.free -= 1
            return None
        handed_over = self.env.event()
        self.waiting.append((handed_over, self.env.now))
        self.usage.queue_max = max(self.usage.queue_max, len(self.waiting))
        return handed_over

    def take(self) -> Generator[simpy.Event, Any, None]:
        """Take a server, waiting for one if all are busy (``yield from pool.take()``); a waiter
        interrupted while it waits gives up its place. End with :meth:`release`."""
        handed_over = self.acquire()
        if handed_over is None:
            return
        try:
            yield handed_over
        except BaseException:
            self.abandon(handed_over)
            raise

    def release(self) -> None:
        if self.env._now > self._since:
            self._account()
        if self.waiting:
            handed_over, since = self.waiting.popleft()
            waited = self.env.now - since
            usage = self.usage
            usage.waits += 1
            usage.wait_total += waited
            usage.wait_max = max(usage.wait_max, waited)
            handed_over.succeed()
        else:
            self.free += 1

    def abandon(self, handed_over: simpy.Event) -> None:
        if handed_over.triggered:
            self.release()
            return
        self._account()
        for index, (waiter, _since) in enumerate(self.waiting):
            if waiter is handed_over:
                del self.waiting[index]
                break

    @property
    def busy(self) -> int:
        return self.capacity - self.free

    def settle(self) -> PoolUsage:
        """Bring the measurements up to now and return them (at the end of a run)."""
        self._account()
        return self.usage

    def _account(self) -> None:
        """Add the busy servers and queue length held since the last change to the integrals."""
        now, since = self.env._now, self._since
        if now <= since:
            return
        self._since = now
        busy, queued = self.capacity - self.free, len(self.waiting)
        if not busy and not queued:
            return
        usage = self.usage
        span = now - since
        usage.busy_area += busy * span
        usage.queue_area += queued * span
        second = math.floor(since)
        if now <= second + 1.0:  # the common case: no second boundary crossed
            if busy:
                usage.busy_by_second[second] = usage.busy_by_second.get(second, 0.0) + busy * span
            if queued:
                usage.queue_by_second[second] = usage.queue_by_second.get(second, 0.0) + queued * span
            return
        start = since
        while start < now:
            second = math.floor(start)
            end = min(now, second + 1.0)
            if busy:
                usage.busy_by_second[second] = usage.busy_by_second.get(second, 0.0) + busy * (end - start)
            if queued:
                usage.queue_by_second[second] = usage.queue_by_second.get(second, 0.0) + queued * (end - start)
            start = end
