"""A process that costs no event to start and none to end: the serving of one request.

A ``simpy.Process`` schedules an event to take its first step and another when its generator
returns, so that those who wait on it are resumed. Serving a request needs neither: it starts the
moment the request arrives (the arrival's own callback) and the only one waiting for its end is the
network, which sends the reply. Those two events were a fifth of the events of a run; a
:class:`Task` takes its first step at once and calls ``then(task)`` the moment its generator
returns. In every other way it is a ``simpy.Process``: it waits on events, can be interrupted (a
crash) and fails the run if its generator raises.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy
from simpy.events import PENDING

__all__ = ["Task"]


class _Started:
    """What a task's first step is resumed with: a triggered event's fields, without an event."""

    __slots__ = ()
    _ok = True
    _value = None


_STARTED = _Started()


class Task(simpy.Process):
    """Runs ``generator`` as a process from its first step, now, inside the caller's step (no
    ``Initialize`` event). When the generator returns, or lets an interrupt (a crash) end it with
    value None, ``then(task)`` is called at once (no end event, unless something was added to
    ``callbacks`` to wait on it: then it is also scheduled, as a process is). Any other exception
    the generator raises fails the task as it fails a process."""

    def __init__(
        self, env: simpy.Environment, generator: Generator[simpy.Event, Any, Any], then: Callable[[Task], None]
    ) -> None:
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._then = then
        self._resume(_STARTED)  # type: ignore[arg-type]

    def _resume(self, event: simpy.Event) -> None:
        # simpy.Process._resume (SimPy 4.1), except at the generator's end.
        env = self.env
        active, env._active_proc = env._active_proc, self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as stop:
                value = stop.args[0] if stop.args else None
                break
            except simpy.Interrupt:  # a crash cut the work short
                value = None
                break
            except BaseException as error:
                self._ok = False
                error.__traceback__ = error.__traceback__.tb_next  # type: ignore[union-attr]
                self._value = error
                env.schedule(self)
                self._target = None  # type: ignore[assignment]
                env._active_proc = active
                return
            try:
                if event.callbacks is not None:
                    event.callbacks.append(self._resume)
                    self._target = event
                    env._active_proc = active
                    return
            except AttributeError:
                if hasattr(event, "callbacks"):
                    raise
                raise RuntimeError(f'Invalid yield value "{event}" in {self._generator!r}') from None
        self._ok = True
        self._value = value
        self._target = None  # type: ignore[assignment]
        env._active_proc = active
        if self.callbacks:
            env.schedule(self)
        else:
            self.callbacks = None  # type: ignore[assignment]
        self._then(self)


assert Task._value is PENDING  # a task is alive until its generator returns
