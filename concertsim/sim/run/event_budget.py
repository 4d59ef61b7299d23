"""How many simulated events a run may process: a budget counted in events, never in wall time.

A run is driven by :class:`EventBudget` instead of ``env.run``: it processes the same events in the
same order, counts them, and raises :class:`OverBudget` once the run has processed ``limit`` events
and wants another. Whether a run is over budget is therefore a function of (scenario, seed, limit),
the same on any machine and in any process, and a run stopped by a budget of ``n`` is the first
``n`` events of the run a larger budget lets finish.
"""

from __future__ import annotations

from heapq import heappop

from simpy.core import EmptySchedule, Environment, StopSimulation
from simpy.events import URGENT, Event

__all__ = ["EventBudget", "OverBudget"]

_CHUNK = 4096
"""Events processed between two looks at the budget (the look costs, the step does not)."""


class OverBudget(Exception):
    """The run processed ``limit`` simulated events and was stopped at simulated time ``now``,
    before it finished: it is neither a pass nor a violation."""

    def __init__(self, limit: int, now: float) -> None:
        super().__init__(f"stopped after {limit:,} simulated events at t={now:.3f} s (the event budget)")
        self.limit = limit
        self.now = now


class EventBudget:
    """Advances an environment as ``env.run(until=...)`` does, counting the events it processes.

    ``processed`` counts the run's own events, not the stops that end each :meth:`run_until`, so
    slicing a run (progress reports, settle checks) does not change the count. With ``limit``
    None nothing is ever over budget."""

    __slots__ = ("env", "limit", "processed", "_stop_rescheduled")

    def __init__(self, env: Environment, limit: int | None = None) -> None:
        self.env = env
        self.limit = limit
        self.processed = 0
        self._stop_rescheduled = False

    def run_until(self, until: float) -> None:
        """Process every event before ``until`` (and the urgent ones at it that were scheduled
        first), exactly as ``env.run(until=until)``; raise :class:`OverBudget` instead of
        processing one event more than ``limit``."""
        env = self.env
        at = until if isinstance(until, int) else float(until)
        if at <= env.now:
            raise ValueError(f"until ({at}) must be greater than the current simulation time")
        # The stop event env.run would schedule: urgent, so that it comes before regular events at `at`.
        stop = Event(env)
        stop._ok = True
        stop._value = None
        env.schedule(stop, URGENT, at - env.now)
        stop.callbacks.append(StopSimulation.callback)  # type: ignore[union-attr]
        if self._stop_rescheduled:
            # Stopping the previous slice re-scheduled its stop event, and this slice processes it
            # first: not one of the run's events.
            self.processed -= 1
            self._stop_rescheduled = False
        step = env.step
        queue = env._queue
        limit = self.limit
        done = -1
        try:
            while True:
                chunk = _CHUNK if limit is None else min(_CHUNK, limit - self.processed)
                if chunk <= 0:
                    if queue and queue[0][3] is stop:  # the budget is spent exactly at the stop
                        done = 0
                        step()
                    raise OverBudget(limit, env.now)  # type: ignore[arg-type]
                for done in range(chunk):
                    # Environment.step (SimPy 4.1) written out: a method call less per event.
                    try:
                        env._now, _, _, event = heappop(queue)
                    except IndexError:
                        raise EmptySchedule from None
                    callbacks, event.callbacks = event.callbacks, None
                    try:
                        for callback in callbacks:
                            callback(event)
                    except StopSimulation:
                        event.callbacks = callbacks[callbacks.index(callback) + 1:]
                        env.schedule(event, -1)  # type: ignore[arg-type]
                        raise
                    if not event._ok and not hasattr(event, "_defused"):
                        failure = type(event._value)(*event._value.args)
                        failure.__cause__ = event._value
                        raise failure
                self.processed += chunk
        except StopSimulation:
            self.processed += done  # `done` is the stop's own step
            self._stop_rescheduled = True
        except EmptySchedule:
            raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}') from None
