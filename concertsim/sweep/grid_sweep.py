"""Running a grid sweep: every cell of a :class:`~concertsim.sweep.grid.SweepPlan` with every
seed, skipping the runs already done (a resumed sweep), on a process pool or a Dask cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from concertsim.cluster import DEFAULT_CONNECT_TIMEOUT
from concertsim.sweep.aggregate import GridResult
from concertsim.sweep.grid import Cell, GridRun, SweepPlan
from concertsim.sweep.runs import SeedResult, run_jobs

__all__ = ["sweep_grid", "pending_runs"]


def pending_runs(plan: SweepPlan, done: Iterable[GridRun] = ()) -> list[tuple[Cell, int]]:
    """The (cell, seed) pairs of ``plan`` not among ``done``, cell by cell, seed by seed."""
    finished = {(run.cell_key, run.result.seed) for run in done}
    return [(cell, seed) for cell in plan.cells for seed in plan.seeds if (cell.key, seed) not in finished]


def sweep_grid(
    plan: SweepPlan,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    done: Iterable[GridRun] = (),
    on_result: Callable[[GridRun], None] | None = None,
) -> GridResult:
    """Run every cell of ``plan`` with every seed, except the runs in ``done`` (those of an
    interrupted sweep, from its :class:`~concertsim.sweep.journal.Journal`), and aggregate them
    all.

    Runs go to a local pool of ``workers`` processes (one per core if None; in this process if
    1) or to the Dask cluster at ``scheduler``, as :func:`~concertsim.sweep.runs.run_jobs`
    says, which also says what is raised for a bad or unreachable scheduler. ``on_result`` is
    told of each new run as it finishes; an interruption (``KeyboardInterrupt``, also from
    ``on_result``) cancels the rest, and ``on_result`` has heard of every run that finished.
    The result is the same whatever ``done`` held: a run is a function of its cell and seed.
    """
    done = [run for run in done if plan.cell(run.cell_key) is not None and run.result.seed in plan.seeds]
    pending = pending_runs(plan, done)
    payloads = {cell.key: cell.scenario.model_dump_json() for cell in plan.cells}
    runs = list(done)

    def collect(index: int, result: SeedResult) -> None:
        run = GridRun(pending[index][0].values, result)
        runs.append(run)
        if on_result is not None:
            on_result(run)

    run_jobs([(payloads[cell.key], seed) for cell, seed in pending], collect,
             workers=workers, scheduler=scheduler, connect_timeout=connect_timeout)
    return GridResult(plan, runs)
