"""A served request's task and the network's timeouts: the same behaviour as a process per request
and an event per timeout, at a fraction of the events."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
import simpy

from concertsim.scenarios.loader import load_builtin
from concertsim.sim.infrastructure.network import TIMEOUT, Network, Ok, Reply
from concertsim.sim.infrastructure.tasks import Task
from concertsim.sim.infrastructure.world import World


def test_a_task_takes_its_first_step_at_once_and_reports_its_value_when_it_returns() -> None:
    env = simpy.Environment()
    steps: list[tuple[str, float]] = []
    ended: list[Any] = []

    def work() -> Generator[simpy.Event, Any, str]:
        steps.append(("started", env.now))
        yield env.timeout(2.0)
        steps.append(("woke", env.now))
        return "done"

    task = Task(env, work(), lambda t: ended.append((t.value, env.now)))
    assert steps == [("started", 0)] and task.is_alive and not env._queue[1:]  # only the timeout is scheduled
    env.run()
    assert steps == [("started", 0), ("woke", 2.0)] and ended == [("done", 2.0)] and not task.is_alive


def test_an_interrupted_task_ends_with_none_and_one_that_raises_fails_the_run() -> None:
    env = simpy.Environment()
    ended: list[Any] = []

    def waits() -> Generator[simpy.Event, Any, str]:
        yield env.timeout(10.0)
        return "never"

    task = Task(env, waits(), lambda t: ended.append((t.value, env.now)))
    env.process(_interrupt_at(env, task, 1.0))
    env.run()
    assert ended == [(None, 1.0)]

    def raises() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.0)
        raise ValueError("a bug in the endpoint")

    Task(env, raises(), lambda t: ended.append("not called"))
    with pytest.raises(ValueError, match="a bug in the endpoint"):
        env.run()
    assert ended == [(None, 1.0)]


def test_a_process_waiting_on_a_task_is_resumed_with_its_value() -> None:
    env = simpy.Environment()

    def work() -> Generator[simpy.Event, Any, int]:
        yield env.timeout(1.0)
        return 7

    task = Task(env, work(), lambda t: None)
    waiter = env.process(_wait_for(task))
    env.run()
    assert waiter.value == (7, 1.0)


def _interrupt_at(env: simpy.Environment, task: Task, at: float) -> Generator[simpy.Event, Any, None]:
    yield env.timeout(at)
    task.interrupt("crash")


def _wait_for(task: Task) -> Generator[simpy.Event, Any, tuple[int, float]]:
    value = yield task
    return value, task.env.now


class _Server:
    """A callee that answers after ``service`` seconds (as a host would, in a task)."""

    def __init__(self, env: simpy.Environment, service: Callable[[str], float]) -> None:
        self.env = env
        self.name = self.service = "server"
        self.is_up = True
        self._service = service

    def start(self, work: Generator[simpy.Event, Any, Any], then: Callable[[Any], None]) -> Task:
        return Task(self.env, work, lambda task: then(task.value))

    def serve(self, endpoint: str, body: dict[str, Any], trace_id: str | None, call_id: str) -> Generator[simpy.Event, Any, Reply]:
        yield self.env.timeout(self._service(endpoint))
        return Ok(endpoint)


def test_every_call_times_out_at_its_own_deadline_whatever_the_order_of_the_deadlines() -> None:
    """Calls made later with shorter timeouts are due first; answered calls never time out, and
    an answer that arrives after the deadline, even one sent before it, is a late reply."""
    world = World(load_builtin("small-opening"), seed=1)
    env = world.env
    server = _Server(env, lambda endpoint: {"slow": 5.0, "quick": 0.1}[endpoint.split("-")[0]])
    network = Network(world, lambda: 0.01, lambda: 0.01)
    replies: dict[str, tuple[str, float]] = {}

    def client(name: str, at: float, timeout: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(at)
        reply = yield from network.call("client", server, name, {}, timeout=timeout, trace_id=name)
        replies[name] = ("timeout" if reply is TIMEOUT else "ok", env.now)

    plan = {"slow-a": (0.0, 3.0), "slow-b": (0.5, 1.0), "quick-c": (0.6, 2.0), "slow-d": (0.7, 0.2),
            "slow-e": (1.0, 9.0), "quick-f": (2.0, 0.115)}
    for name, (at, timeout) in plan.items():
        env.process(client(name, at, timeout))
    env.run()
    assert replies == {
        "slow-a": ("timeout", 3.0),
        "slow-b": ("timeout", 1.5),
        "quick-c": ("ok", pytest.approx(0.72)),
        "slow-d": ("timeout", pytest.approx(0.9)),
        "slow-e": ("ok", pytest.approx(6.02)),
        "quick-f": ("timeout", pytest.approx(2.115)),  # answered in time, the answer on its way at the deadline
    }
    late = [r.trace_id for r in world.trace if r.kind == "call.late_reply"]
    assert sorted(late) == ["quick-f", "slow-a", "slow-b", "slow-d"]
