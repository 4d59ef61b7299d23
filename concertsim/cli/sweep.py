"""``concertsim sweep``: a scenario over a grid of values and many seeds, on a process pool or a
Dask cluster; streamed, resumable, aggregated into a report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from concertsim.cli.app import (
    MAX_SEEDS,
    MAX_WORKERS,
    AllowLargeOption,
    ConnectTimeoutOption,
    JsonOption,
    OutOption,
    QuietOption,
    ScenarioArg,
    SchedulerOption,
    SetOption,
    app,
    bad_input,
    check_size,
    emit_json,
    escape,
    interrupted,
    progress_display,
    raise_if_interrupted,
    scenario_or_exit,
    scheduler_or_exit,
    given_files,
    staged_results,
    stderr,
    stdout,
)
from concertsim.cli.errors import EXIT_OK, EXIT_VIOLATION
from concertsim.cluster import (
    DEFAULT_CONNECT_TIMEOUT,
    SchedulerUnreachable,
)
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.results.staging import StagedOutput
from concertsim.reports.sweep.console import print_sweep_summary
from concertsim.reports.sweep.report import write_sweep_report
from concertsim.sim.run.cost import estimate_run_cost
from concertsim.sweep import (
    GridResult,
    GridRun,
    Journal,
    JournalError,
    MatrixError,
    SweepPlan,
    open_journal,
    parse_matrix,
    sweep_grid,
)
from concertsim.sweep.journal import JOURNAL_FILE, PLAN_FILE

__all__ = ["sweep_command"]

MatrixOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--matrix",
        help="Sweep a scenario field over values: --matrix design.publish=outbox,dual_write. Repeatable: the "
        "grid is every combination; each value is checked like a --set override.",
        metavar="KEY=V1,V2,...",
    ),
]


def _write_results(output: OutputDir, result: GridResult) -> dict[str, Any]:
    """The complete result set: every run (by cell, then seed), the plan, the summary and the report."""
    summary = result.to_json()
    output.write_lines(JOURNAL_FILE, (_line(run) for run in result.ordered_runs()))
    output.write_json(PLAN_FILE, result.plan.to_json())
    output.write_json("summary.json", summary)
    write_sweep_report(output, result)
    return summary


def _line(run: GridRun) -> str:
    return json.dumps(run.to_json(), sort_keys=True, separators=(",", ":"))


def _how_far(plan: SweepPlan, journal: Journal | None) -> str:
    unit = "runs" if plan.swept else "seeds"
    if journal is None:
        return f"before the first of {plan.total_runs} {unit} finished"
    done = journal.recorded
    kept = (f" (the {done} finished are kept in {journal.shown}: continue with --resume)" if done
            else "")
    return f"after {done} of {plan.total_runs} {unit}{kept}"


@app.command(name="sweep")
def sweep_command(
    scenario: ScenarioArg = None,
    matrix: MatrixOption = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per cell: the scenario's seed and the ones after it, the same in every cell.", min=1, max=MAX_SEEDS)] = 10,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the interrupted sweep into --out (the same scenario, --set, --matrix and --seeds): runs it finished are not run again.")] = False,
    restart: Annotated[bool, typer.Option("--restart", help="Discard an interrupted sweep into --out and start afresh.")] = False,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Local worker processes (default: one per core).", min=1, max=MAX_WORKERS)] = None,
    scheduler: SchedulerOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-sweep"),
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Run a scenario over a grid of values (--matrix) and many seeds, in parallel, and aggregate.

    Every cell of the grid runs the same --seeds seeds, on a local process pool or a Dask cluster
    (--scheduler). Each finished run is written at once as a line of sweep.jsonl, so an
    interrupted sweep keeps what it finished (beside --out, in .OUT.concertsim-journal) and
    --resume continues it. When complete, --out gets sweep.jsonl, summary.json (per cell: each
    invariant's violation rate with a Wilson 95% interval, each headline measure's mean with a
    percentile bootstrap 95% interval), report.md, report.html and figures.

    Exit codes: 0 every run kept every invariant; 1 a run broke an invariant; 2 bad input (a
    --matrix key or value, a resume of another sweep), an address that is not a scheduler's, or
    no scheduler answering within --connect-timeout; 130 interrupted (says how many runs finished
    and keeps them for --resume; earlier results in --out are kept).
    """
    resolved = scenario_or_exit(scenario, set_)
    try:
        plan = SweepPlan.build(resolved, parse_matrix(matrix or (), set_ or ()), range(resolved.seed, resolved.seed + seeds))
    except MatrixError as error:
        raise bad_input(str(error)) from None
    if resume and restart:
        raise bad_input("--resume and --restart: give one or the other")
    address = scheduler_or_exit(scheduler)
    announce = not (quiet or json_output)
    at_once = 1 if address is not None else min(plan.total_runs, workers or os.cpu_count() or 1)
    largest = max(plan.cells, key=lambda cell: estimate_run_cost(cell.scenario).memory_bytes)
    check_size(largest.scenario, allow_large=allow_large, announce=announce, at_once=at_once,
               kept_runs=plan.total_runs)
    staged: StagedOutput | None = None
    journal: Journal | None = None
    with progress_display(announce and stderr.is_terminal) as progress:
        try:
            with staged_results(out, inputs=given_files(scenario)) as staged:
                try:
                    journal = open_journal(staged.target, plan, resume=resume, restart=restart, shown=out)
                except JournalError as error:
                    raise bad_input(str(error)) from None
                with journal:
                    if journal.note and announce:
                        stderr.print(escape(journal.note), highlight=False, soft_wrap=True)
                    if journal.runs and announce and not journal.note:
                        stderr.print(f"resuming: {len(journal.runs)} of {plan.total_runs} runs already done",
                                     highlight=False)
                    task = (progress.add_task("sweeping", total=plan.total_runs, completed=len(journal.runs))
                            if progress else None)

                    def record(run: GridRun) -> None:
                        assert journal is not None
                        journal.append(run)
                        raise_if_interrupted()
                        if progress is not None and task is not None:
                            progress.advance(task)

                    try:
                        result = sweep_grid(plan, workers=workers, scheduler=address, connect_timeout=connect_timeout,
                                            done=journal.runs, on_result=record)
                    except SchedulerUnreachable as error:
                        raise bad_input(f"--scheduler: {error}") from None
                    except JournalError as error:
                        raise bad_input(str(error)) from None
                    assert staged.output is not None
                    summary = _write_results(staged.output, result)
                    staged.commit()
                journal.discard()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, _how_far(plan, journal)) from None
    if json_output:
        emit_json(summary)
    elif not quiet:
        print_sweep_summary(stdout, result, out, resumed=len(journal.runs))
    raise typer.Exit(EXIT_OK if result.holds else EXIT_VIOLATION)
