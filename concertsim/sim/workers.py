"""A host's bounded worker pool.

Like ``simpy.Resource`` with FIFO waiting, but taking a free worker costs no event at all: on the
simulation's hot path most requests find a worker idle, and the two events per request a Resource
schedules (request, release) were a measurable share of the cost of a simulated call.
"""

from __future__ import annotations

from collections import deque

import simpy

__all__ = ["WorkerPool"]


class WorkerPool:
    """``acquire()`` takes a worker: it returns None when one was free, or an event that fires
    when one is handed over (first come, first served). Every acquisition ends with ``release()``;
    a waiter that gives up (its process was interrupted) calls ``abandon(event)`` instead."""

    def __init__(self, env: simpy.Environment, capacity: int) -> None:
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.waiting: deque[simpy.Event] = deque()

    def acquire(self) -> simpy.Event | None:
        if self.free and not self.waiting:
            self.free -= 1
            return None
        handed_over = self.env.event()
        self.waiting.append(handed_over)
        return handed_over

    def release(self) -> None:
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.free += 1

    def abandon(self, handed_over: simpy.Event) -> None:
        if handed_over.triggered:
            self.release()
        else:
            self.waiting.remove(handed_over)

    @property
    def busy(self) -> int:
        return self.capacity - self.free
