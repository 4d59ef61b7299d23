"""``concertsim sweep``: one scenario over many seeds, on a process pool or a Dask cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from concertsim.cli.app import (
    AllowLargeOption,
    JsonOption,
    OutOption,
    QuietOption,
    ScenarioArg,
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
    staged_results,
    stderr,
    stdout,
)
from concertsim.cli.errors import EXIT_OK, EXIT_VIOLATION
from concertsim.cluster import (
    DEFAULT_CONNECT_TIMEOUT,
    SchedulerAddressError,
    SchedulerUnreachable,
    scheduler_address,
)
from concertsim.reports.staging import StagedOutput
from concertsim.sweep import SeedResult, sweep as run_sweep

__all__ = ["sweep_command"]


@app.command(name="sweep")
def sweep_command(
    scenario: ScenarioArg = None,
    seeds: Annotated[int, typer.Option("--seeds", help="How many seeds to run (the scenario's seed and the ones after it).", min=1)] = 10,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Local worker processes (default: one per core).", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of a Dask scheduler, e.g. tcp://10.0.0.5:8786, to run on a cluster.")] = None,
    connect_timeout: Annotated[
        float,
        typer.Option("--connect-timeout", metavar="SECONDS", help="How long to wait for the --scheduler to answer.", min=0.1, max=3600),
    ] = DEFAULT_CONNECT_TIMEOUT,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-sweep"),
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Run one scenario over many seeds in parallel and aggregate the verdicts.

    Uses a local process pool, or a Dask distributed cluster with --scheduler. Writes
    summary.json (per invariant, the seeds that broke it; spread of confirmed reservations and of
    time to convergence; every seed's trace hash).

    Exit codes: 0 every seed kept every invariant; 1 a seed broke an invariant; 2 bad input, an
    address that is not a scheduler's, or no scheduler answering within --connect-timeout; 130
    interrupted (says how many seeds finished; earlier results in --out are kept).
    """
    resolved = scenario_or_exit(scenario, set_)
    address = None
    if scheduler is not None:
        try:
            address = scheduler_address(scheduler)
        except SchedulerAddressError as error:
            raise bad_input(f"--scheduler: {error}") from None
    announce = not (quiet or json_output)
    at_once = 1 if address is not None else min(seeds, workers or os.cpu_count() or 1)
    check_size(resolved, allow_large=allow_large, announce=announce, at_once=at_once)
    seed_list = range(resolved.seed, resolved.seed + seeds)
    finished: list[SeedResult] = []
    staged: StagedOutput | None = None
    with progress_display(announce and stderr.is_terminal) as progress:
        task = progress.add_task("sweeping", total=seeds) if progress else None

        def advance(result: SeedResult) -> None:
            raise_if_interrupted()
            finished.append(result)
            if progress is not None and task is not None:
                progress.advance(task)

        try:
            with staged_results(out) as staged:
                try:
                    result = run_sweep(
                        resolved, seed_list, workers=workers, scheduler=address, connect_timeout=connect_timeout,
                        on_result=advance,
                    )
                except SchedulerUnreachable as error:
                    raise bad_input(f"--scheduler: {error}") from None
                summary = result.to_json()
                assert staged.output is not None
                staged.output.write_json("summary.json", summary)
                staged.commit()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, f"after {len(finished)} of {seeds} seeds") from None
    if json_output:
        emit_json(summary)
    elif not quiet:
        table = Table(title=f"{escape(resolved.name)}: {seeds} seeds", title_justify="left")
        table.add_column("invariant")
        table.add_column("seeds that broke it")
        for invariant, broken in summary["violations_by_invariant"].items():
            table.add_row(invariant, ", ".join(map(str, broken)))
        if not summary["violations_by_invariant"]:
            table.add_row("[green]all invariants[/green]", "[green]none[/green]")
        stdout.print(table)
        stdout.print(
            f"confirmed reservations {summary['confirmed']}; time to convergence "
            f"{summary['time_to_convergence']}; never converged: {summary['never_converged']}"
        )
    raise typer.Exit(EXIT_OK if result.holds else EXIT_VIOLATION)
