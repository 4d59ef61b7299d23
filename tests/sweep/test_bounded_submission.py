"""A sweep hands the pool a bounded window of runs, never every run at once: a sweep of millions
of seeds holds a few runs in flight, not millions of pending futures."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

import concertsim.sweep.runs as runs_module
from concertsim.sweep.runs import IN_FLIGHT_PER_WORKER, run_jobs


class CountingPool:
    """An executor that runs each job at once and remembers how many were outstanding at most."""

    most_outstanding = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.outstanding: set[Future] = set()

    def submit(self, function: Any, payload: str, seed: int) -> Future:
        future: Future = Future()
        future.set_result(seed)
        future.add_done_callback(lambda done: None)
        self.outstanding.add(future)
        CountingPool.most_outstanding = max(CountingPool.most_outstanding, len(self.outstanding))
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


def test_the_local_pool_is_given_a_window_of_runs_and_every_run_is_done_in_order_of_its_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = CountingPool

    def forget_finished(futures: Any, return_when: Any) -> tuple[set[Future], set[Future]]:
        done = {f for f in futures if f.done()}
        for instance in created:
            instance.outstanding -= done
        return done, set()

    created: list[CountingPool] = []

    def make(*args: Any, **kwargs: Any) -> CountingPool:
        created.append(pool(*args, **kwargs))
        return created[-1]

    monkeypatch.setattr(runs_module, "ProcessPoolExecutor", make)
    monkeypatch.setattr(runs_module, "wait", forget_finished)
    finished: list[tuple[int, Any]] = []
    jobs = [("{}", seed) for seed in range(10_000)]
    run_jobs(jobs, lambda index, result: finished.append((index, result)), workers=2)
    assert [index for index, _ in finished] == list(range(10_000))
    assert [result for _, result in finished] == list(range(10_000))
    assert CountingPool.most_outstanding == 2 * IN_FLIGHT_PER_WORKER
