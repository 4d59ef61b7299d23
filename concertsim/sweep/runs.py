"""Runs over many seeds, in parallel: one scenario's seeds (:func:`sweep`), or any list of
(scenario, seed) jobs (:func:`run_jobs`, which the grid sweep uses).

Runs are independent, so they spread over a local process pool by default, or over a Dask
distributed cluster given its scheduler address. Each worker returns only a small, picklable
summary of its run (:class:`SeedResult`); the aggregation counts, per invariant, the seeds that
broke it.
"""

from __future__ import annotations

import os
import signal
import statistics
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.checks.probes import probe_counts
from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT, connect
from concertsim.metrics import headline_measures
from concertsim.parent_death import end_with_parent
from concertsim.scenarios.schema import INVARIANT_IDS, Scenario
from concertsim.sim.run.runner import run_scenario

__all__ = ["SeedResult", "SweepResult", "run_seed", "run_jobs", "sweep"]


@dataclass(frozen=True)
class SeedResult:
    seed: int
    trace_sha256: str
    violated: tuple[str, ...]
    confirmed: int
    time_to_convergence: float | None
    wall_seconds: float
    first_violations: tuple[str, ...]
    measures: dict[str, float | None] = field(default_factory=dict)
    """The run's :func:`~concertsim.metrics.headline_measures`."""
    probes: dict[str, int] = field(default_factory=dict)
    """How often the run reached each coverage probe's situation
    (:func:`~concertsim.checks.probes.probe_counts`)."""
    not_applicable: dict[str, str] = field(default_factory=dict)
    """The invariants the run could not judge, each with the reason: neither held nor broken."""

    def judged(self, invariant: str) -> bool:
        """Whether the run judged ``invariant`` (it held or was violated)."""
        return invariant not in self.not_applicable

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data (``wall_seconds`` is the run's wall-clock time, the one
        field that is not a function of scenario and seed)."""
        return {
            "seed": self.seed,
            "trace_sha256": self.trace_sha256,
            "violated": list(self.violated),
            "first_violations": list(self.first_violations),
            "confirmed": self.confirmed,
            "time_to_convergence": self.time_to_convergence,
            "measures": dict(self.measures),
            "probes": dict(self.probes),
            "not_applicable": dict(self.not_applicable),
            "wall_seconds": self.wall_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SeedResult:
        """The result :meth:`to_json` gave; ``KeyError``, ``TypeError`` or ``ValueError`` for
        data of another shape."""
        return cls(
            seed=int(data["seed"]),
            trace_sha256=str(data["trace_sha256"]),
            violated=tuple(str(v) for v in data["violated"]),
            confirmed=int(data["confirmed"]),
            time_to_convergence=None if data["time_to_convergence"] is None else float(data["time_to_convergence"]),
            wall_seconds=float(data["wall_seconds"]),
            first_violations=tuple(str(v) for v in data["first_violations"]),
            measures={str(k): None if v is None else float(v) for k, v in dict(data["measures"]).items()},
            probes={str(k): int(v) for k, v in dict(data.get("probes", {})).items()},
            not_applicable=_in_checks_order({str(k): str(v) for k, v in dict(data.get("not_applicable", {})).items()}),
        )


def _in_checks_order(by_invariant: dict[str, str]) -> dict[str, str]:
    """``by_invariant`` in the order of ``INVARIANT_IDS`` (a journal line stores its keys sorted),
    so that a resumed sweep summarises exactly as one that ran through."""
    order = {name: index for index, name in enumerate(INVARIANT_IDS)}
    return dict(sorted(by_invariant.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def run_seed(scenario_json: str, seed: int) -> SeedResult:
    """Run one seed (in a worker process or on a Dask worker) and keep only its summary."""
    scenario = Scenario.model_validate_json(scenario_json)
    result = run_scenario(scenario, seed)
    outcome = RunOutcome(result, check_run(result))
    metrics = outcome.metrics
    return SeedResult(
        seed=seed,
        trace_sha256=result.trace_sha256,
        violated=tuple(outcome.violated),
        confirmed=metrics["reservations"]["confirmed"],
        time_to_convergence=metrics["time"]["time_to_convergence"],
        wall_seconds=result.wall_seconds,
        first_violations=tuple(
            f"{v.invariant.id}: {v.violations[0].message}" for v in outcome.verdicts if v.violated
        ),
        measures=headline_measures(result, metrics),
        probes=probe_counts(result),
        not_applicable=outcome.not_applicable,
    )


@dataclass
class SweepResult:
    scenario: Scenario
    seeds: list[SeedResult] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return all(not s.violated for s in self.seeds)

    def not_applicable(self) -> dict[str, str]:
        """The invariants the scenario checks that no seed could judge, each with the reason."""
        if not self.seeds:
            return {}
        first = min(self.seeds, key=lambda s: s.seed)
        return {name: reason for name, reason in first.not_applicable.items()
                if all(not s.judged(name) for s in self.seeds)}

    def violations_by_invariant(self) -> dict[str, list[int]]:
        broken: dict[str, list[int]] = {}
        for result in sorted(self.seeds, key=lambda s: s.seed):
            for invariant in result.violated:
                broken.setdefault(invariant, []).append(result.seed)
        return broken

    def to_json(self) -> dict[str, Any]:
        convergence = [s.time_to_convergence for s in self.seeds if s.time_to_convergence is not None]
        confirmed = [s.confirmed for s in self.seeds]
        return {
            "scenario": self.scenario.name,
            "seeds": len(self.seeds),
            "holds": self.holds,
            "violations_by_invariant": self.violations_by_invariant(),
            "not_applicable": self.not_applicable(),
            "confirmed": _spread(confirmed),
            "time_to_convergence": _spread(convergence),
            # Without faults there is nothing to recover from: time to convergence does not apply.
            "never_converged": (sum(1 for s in self.seeds if s.time_to_convergence is None)
                                if self.scenario.faults else None),
            "runs": [
                {"seed": s.seed, "trace_sha256": s.trace_sha256, "violated": list(s.violated),
                 "confirmed": s.confirmed, "time_to_convergence": s.time_to_convergence,
                 "first_violations": list(s.first_violations), "not_applicable": dict(s.not_applicable)}
                for s in sorted(self.seeds, key=lambda s: s.seed)
            ],
        }


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def _ignore_interrupts(parent: int | None = None) -> None:
    """In a pool worker: leave Ctrl-C to the parent, which cancels the pool (a worker that took
    the terminal's SIGINT itself would print a traceback of its own); let SIGTERM end the worker
    (a handler inherited from the command line would raise inside the run, and the pool would
    catch it as the run's failure and go on); and end with the parent (Linux): a sweep killed
    outright (SIGKILL) cannot stop its pool, and its workers would wait for work forever."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    end_with_parent(parent)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel the seeds not started and end the ones running (their results are not wanted)."""
    for future_process in list(getattr(pool, "_processes", {}).values()):
        future_process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def run_jobs(
    jobs: Sequence[tuple[str, int]],
    on_done: Callable[[int, SeedResult], None],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> None:
    """Run each job, a (scenario as JSON, seed) pair: on a local pool of ``workers`` processes
    (one per core if None; in this process if 1), or on the Dask cluster at ``scheduler``.

    ``on_done(index, result)`` is called in this process as each job finishes, in the order they
    finish, with the job's index in ``jobs``. Raises ``concertsim.cluster.SchedulerAddressError``
    for an address that is not one and ``SchedulerUnreachable`` if no scheduler answers within
    ``connect_timeout`` seconds. On an interruption (``KeyboardInterrupt``, also one raised by
    ``on_done``) the jobs not yet started are cancelled and the running ones ended before it
    propagates; ``on_done`` has been told of every job that finished before it.
    """
    if not jobs:
        return
    if scheduler is not None:
        from dask.distributed import as_completed as dask_completed

        with connect(scheduler, connect_timeout) as client:
            window = IN_FLIGHT_PER_WORKER * max(1, sum(client.nthreads().values()))
            pending = iter(enumerate(jobs))
            in_flight = {client.submit(run_seed, payload, seed, pure=False): index
                         for index, (payload, seed) in islice(pending, window)}
            flowing = dask_completed(list(in_flight))
            try:
                for future in flowing:
                    on_done(in_flight.pop(future), future.result())
                    for index, (payload, seed) in islice(pending, window - len(in_flight)):
                        follow = client.submit(run_seed, payload, seed, pure=False)
                        in_flight[follow] = index
                        flowing.add(follow)
            except BaseException:
                client.cancel(list(in_flight))
                raise
    elif workers == 1:
        for index, (payload, seed) in enumerate(jobs):
            on_done(index, run_seed(payload, seed))
    else:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts, initargs=(os.getpid(),))
        window = IN_FLIGHT_PER_WORKER * (workers or os.cpu_count() or 1)
        pending = iter(enumerate(jobs))
        try:
            submitted = {pool.submit(run_seed, payload, seed): index
                         for index, (payload, seed) in islice(pending, window)}
            while submitted:
                done, _ = wait(submitted, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=submitted.__getitem__):
                    on_done(submitted.pop(future), future.result())
                for index, (payload, seed) in islice(pending, window - len(submitted)):
                    submitted[pool.submit(run_seed, payload, seed)] = index
        except BaseException:
            _stop(pool)
            raise
        pool.shutdown(wait=True)


IN_FLIGHT_PER_WORKER = 4
"""Jobs handed to the pool (or the cluster) per worker ahead of their turn: enough to keep every
worker busy, few enough that a sweep of millions of runs holds only a window of them at once."""


def sweep(
    scenario: Scenario,
    seeds: Iterable[int],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    on_result: Callable[[SeedResult], None] | None = None,
) -> SweepResult:
    """Run ``scenario`` once per seed: on a local pool of ``workers`` processes, or on the Dask
    cluster at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``).

    Raises ``concertsim.cluster.SchedulerAddressError`` for an address that is not one and
    ``SchedulerUnreachable`` if no scheduler answers within ``connect_timeout`` seconds. On an
    interruption (``KeyboardInterrupt``) the seeds not yet started are cancelled before it
    propagates; ``on_result`` has been told of every seed that finished.
    """
    payload = scenario.model_dump_json()
    result = SweepResult(scenario)

    def collect(index: int, seed_result: SeedResult) -> None:
        result.seeds.append(seed_result)
        if on_result is not None:
            on_result(seed_result)

    run_jobs([(payload, seed) for seed in seeds], collect, workers=workers, scheduler=scheduler,
             connect_timeout=connect_timeout)
    result.seeds.sort(key=lambda s: s.seed)
    return result
