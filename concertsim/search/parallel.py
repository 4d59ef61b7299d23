"""Run a search's rounds in this process, on a local process pool, or on a Dask cluster.

Rounds are independent (``concertsim.search.rounds``), so they can run anywhere and in any order;
what makes the outcome deterministic is the rule for choosing the winner: the failing round with
the *lowest index*, and only once every round before it has finished without a failure. A round
that fails later in wall time but earlier in the plan wins, so the counterexample, the examples
counted and the probes summed are the same for one worker or many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT, connect
from concertsim.search.rounds import RoundResult, SearchSpace, run_round

__all__ = ["RoundPlan", "run_rounds"]


@dataclass(frozen=True)
class RoundPlan:
    """Round ``index`` may try up to ``limit`` examples."""

    index: int
    limit: int


def run_rounds(
    space: SearchSpace,
    seed: int,
    plan: Sequence[RoundPlan],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_round: Callable[[RoundResult], None] | None = None,
) -> list[RoundResult]:
    """Run ``plan`` until its first failing round; return the rounds that count, in plan order:
    every round up to and including the first failing one (or all, if none fails).

    Raises :class:`concertsim.cluster.SchedulerUnreachable` if ``scheduler`` does not answer
    within ``connect_timeout`` seconds.

    ``on_round`` is told of each counted round as soon as all rounds before it are known.
    """
    if scheduler is None and workers <= 1:
        return _in_process(space, seed, plan, on_round)
    if scheduler is not None:
        return _on_dask(space, seed, plan, scheduler, connect_timeout, on_round)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return _windowed(
            plan, workers,
            lambda p: pool.submit(run_round, space, seed, p.index, p.limit),
            _wait_local, on_round,
        )


def _in_process(
    space: SearchSpace, seed: int, plan: Sequence[RoundPlan],
    on_round: Callable[[RoundResult], None] | None,
) -> list[RoundResult]:
    done = []
    for p in plan:
        result = run_round(space, seed, p.index, p.limit)
        done.append(result)
        if on_round is not None:
            on_round(result)
        if result.failed:
            break
    return done


def _on_dask(
    space: SearchSpace, seed: int, plan: Sequence[RoundPlan], scheduler: str,
    connect_timeout: float, on_round: Callable[[RoundResult], None] | None,
) -> list[RoundResult]:
    from dask.distributed import wait as dask_wait

    with connect(scheduler, connect_timeout) as client:
        workers = max(1, sum(client.nthreads().values()))

        def wait_first(pending: set[Any]) -> set[Any]:
            return set(dask_wait(list(pending), return_when="FIRST_COMPLETED").done)

        return _windowed(
            plan, workers,
            lambda p: client.submit(run_round, space, seed, p.index, p.limit, pure=False),
            wait_first, on_round,
        )


def _wait_local(pending: set[Any]) -> set[Any]:
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    return done


def _windowed(
    plan: Sequence[RoundPlan],
    workers: int,
    submit: Callable[[RoundPlan], Any],
    wait_first: Callable[[set[Any]], set[Any]],
    on_round: Callable[[RoundResult], None] | None,
) -> list[RoundResult]:
    """Keep ``2 * workers`` rounds in flight, in plan order; stop submitting once a round fails,
    and finish only when every round before the earliest failure is known."""
    finished: dict[int, RoundResult] = {}
    pending: dict[Any, int] = {}
    next_to_submit = 0
    next_to_report = 0
    first_failure: int | None = None
    while True:
        while (
            next_to_submit < len(plan) and len(pending) < 2 * workers
            and (first_failure is None or next_to_submit < first_failure)
        ):
            pending[submit(plan[next_to_submit])] = next_to_submit
            next_to_submit += 1
        if not pending:
            break
        for future in wait_first(set(pending)):
            position = pending.pop(future)
            result: RoundResult = future.result()
            finished[position] = result
            if result.failed and (first_failure is None or position < first_failure):
                first_failure = position
        while next_to_report in finished and (first_failure is None or next_to_report <= first_failure):
            if on_round is not None:
                on_round(finished[next_to_report])
            next_to_report += 1
        if first_failure is not None and all(i in finished for i in range(first_failure + 1)):
            for future in pending:
                _cancel(future)
            break
    last = first_failure if first_failure is not None else len(plan) - 1
    return [finished[i] for i in range(last + 1)]


def _cancel(future: Future[Any] | Any) -> None:
    try:
        future.cancel()
    except Exception:  # a Dask future whose client is closing: nothing left to cancel
        pass
