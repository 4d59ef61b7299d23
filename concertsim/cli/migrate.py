"""``concertsim migrate``: the stages of the migration from the monolith (seed 9), side by side."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

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
from concertsim.api import resolve_scenario
from concertsim.cli.app import escape
from concertsim.cli.errors import EXIT_OK, EXIT_VIOLATION
from concertsim.cli.run import RunWatch, run_and_write
from concertsim.migration_plan_run import chain_checks, plan_scenario, plan_steps, step_line, verdict_line
from concertsim.scenarios.loader import ScenarioError
from concertsim.cluster import (
    DEFAULT_CONNECT_TIMEOUT,
    SchedulerUnreachable,
)
from concertsim.migration import (
    SHIFT_KEY,
    STAGE_NAMES,
    TOPOLOGY_KEY,
    MigrationError,
    parse_stages,
    plan_migration,
    run_migration,
    runs_needed,
    with_shift,
    without_shift,
)
from concertsim.reports.migration.console import print_migration_summary
from concertsim.reports.migration.report import write_migration_report
from concertsim.reports.results.staging import StagedOutput
from concertsim.sweep import GridRun

__all__ = ["migrate_command"]


def _carries_plan(scenario: str | None, overrides: list[str] | None) -> bool:
    """Whether SCENARIO names a scenario with a ``migration:`` block (a bad one is left to the
    stage comparison to refuse)."""
    if scenario is None:
        return False
    try:
        return resolve_scenario(scenario, tuple(overrides or ())).migration is not None
    except ScenarioError:
        return False


def _run_plan(plan: str | None, scenario: str | None, overrides: list[str] | None, out: Path, *, quiet: bool,
              json_output: bool, allow_large: bool) -> None:
    """``migrate --plan``: one run carrying the plan; each step's outcome; exit 0, 1 or 2."""
    try:
        if plan is None:
            resolved = resolve_scenario(scenario, tuple(overrides or ()))
        else:
            base = None if scenario is None else resolve_scenario(scenario)
            resolved = plan_scenario(plan, base, overrides or ())
    except ScenarioError as error:
        raise bad_input(str(error)) from None
    announce = not (quiet or json_output)
    check_size(resolved, allow_large=allow_large, announce=announce, at_once=1, kept_runs=1)
    watch = RunWatch(resolved, None)
    staged: StagedOutput | None = None
    try:
        with staged_results(out, inputs=given_files(scenario, plan)) as staged:
            outcome = run_and_write(resolved, staged, watch, check_determinism=False, trace_format="jsonl")
            staged.commit()
    except KeyboardInterrupt as error:
        raise interrupted(error, staged, watch.how_far()) from None
    steps = plan_steps(outcome.result)
    checks = chain_checks(resolved.migration)
    chained = resolved.migration is not None and resolved.migration.then is not None
    moved = ", then ".join(p.service for p in resolved.migration.chain()) if resolved.migration else ""
    verdicts = {verdict.invariant.id: verdict for verdict in outcome.verdicts}
    broken = [verdict for verdict in outcome.verdicts if verdict.violated]
    if json_output:
        emit_json({"scenario": resolved.name, "holds": not broken,
                   "steps": [{"at": step.at, "step": step.step, "action": step.action, "outcome": step.outcome,
                              **step.details} for step in steps],
                   "invariants": {name: verdicts[name].status for name in checks if name in verdicts},
                   "violated": [verdict.invariant.id for verdict in broken],
                   "trace_sha256": outcome.result.trace_sha256})
    elif not quiet:
        stdout.print(f"migration plan of {escape(resolved.name)} ({moved}, seed {resolved.seed}):", highlight=False,
                     soft_wrap=True)
        for step in steps:
            stdout.print("  " + escape(step_line(step, chained)), highlight=False, soft_wrap=True)
        for name in checks:
            if name in verdicts:
                stdout.print("  " + escape(verdict_line(verdicts[name])), highlight=False, soft_wrap=True)
        others = [verdict for verdict in broken if verdict.invariant.id not in checks]
        for verdict in others:
            stdout.print("  " + escape(verdict_line(verdict)), highlight=False, soft_wrap=True)
        stdout.print(f"{'every invariant holds' if not broken else f'{len(broken)} invariant(s) violated'}; "
                     f"trace sha256 {outcome.result.trace_sha256[:16]}…; written to {escape(str(out))}/",
                     highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK if not broken else EXIT_VIOLATION)


@app.command(name="migrate")
def migrate_command(
    scenario: ScenarioArg = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per stage: the scenario's seed and the ones after it, the same at every stage.", min=1, max=MAX_SEEDS)] = 5,
    stages: Annotated[str | None, typer.Option("--stages", metavar="A,B,...", help=f"The stages to run, comma-separated (default: all, {', '.join(STAGE_NAMES)}); run in that order.")] = None,
    shift: Annotated[int | None, typer.Option("--shift", metavar="PERCENT", help="Also run the monolith with this share of the users (spread over them, the same users and more for a larger share) served by the split-out Point, its store kept in sync by replication: the stage monolith@PERCENT, run after the monolith (default: the scenario's own design.point_shift, if it has one).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", help="Local worker processes (default: one per core).", min=1, max=MAX_WORKERS)] = None,
    scheduler: SchedulerOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-migrate"),
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    plan: Annotated[str | None, typer.Option("--plan", metavar="FILE", help="Run a migration plan in one run instead of comparing stages: a plan file (the fields of a migration: block) laid onto SCENARIO (default ticket-opening) at the stage its service moves from (the monolith for Point, point_split for Queue, queue_split for Concert, concert_split for Reservation), or a built-in scenario that carries a plan (point-migration, queue-migration, concert-migration, reservation-migration, and monolith-split: the four in one run). Prints what each step did; exit codes as for run.")] = None,
) -> None:
    """Run a scenario at every stage of the migration from the monolith (seed 9) and compare them.

    The stages: monolith (one process, one database, one local transaction), point_split (Point
    apart), queue_split (Queue too), concert_split (Concert too), services (every service apart:
    the full design). With --shift PERCENT, also monolith@PERCENT: the monolith with that share
    of users served by the split-out Point and its own store (the strangler pattern's gradual
    shift; the invariant point-stores-agree compares the two stores). Every stage runs the same
    workload, fault schedule and --seeds seeds; with faults, every stage also runs without them
    (what a split costs by itself, apart from what the faults do to it). Prints
    a row per stage (how many runs broke an invariant, latency p50/p95 and messages per booking as
    means over the seeds, how many invariants first break there), then each broken invariant's
    violation rate with its Wilson 95% interval. Writes migration.json, report.md and report.html
    (measures with percentile bootstrap 95% intervals, the situations each stage first reaches) into --out.

    With --plan (or a SCENARIO that carries a migration: block), one run carries the whole plan
    under the workload and faults instead: copy, verify, shift, cutover, rollback at their times;
    prints each step's outcome and the migration's invariants, and writes the run's results
    (summary.json's metrics.migration holds the timeline) and migration-timeline.png into --out.

    Exit codes: 0 every stage kept every invariant; 1 a run broke one; 2 bad input (a scenario, an
    override, --stages, --shift, a plan), an unwritable --out, or no scheduler answering; 130 interrupted.
    """
    if plan is not None or _carries_plan(scenario, set_):
        if stages is not None or shift is not None:
            raise bad_input("--stages and --shift compare stages; a migration plan runs in one run (--plan)")
        _run_plan(plan, scenario, set_, out, quiet=quiet, json_output=json_output, allow_large=allow_large)
        return
    for key, option in ((TOPOLOGY_KEY, "--stages"), (SHIFT_KEY, "--shift")):
        if any(override.split("=", 1)[0].strip() == key for override in set_ or ()):
            raise bad_input(f"--set {key}: it is chosen with {option}")
    resolved, carried = without_shift(scenario_or_exit(scenario, set_))
    try:
        chosen = with_shift(parse_stages(stages), shift if shift is not None else carried or None)
    except MigrationError as error:
        raise bad_input(str(error)) from None
    try:
        plan = plan_migration(resolved, chosen, range(resolved.seed, resolved.seed + seeds))
    except MigrationError as error:
        raise bad_input(str(error)) from None
    address = scheduler_or_exit(scheduler)
    announce = not (quiet or json_output)
    at_once = 1 if address is not None else min(runs_needed(plan), workers or os.cpu_count() or 1)
    check_size(resolved, allow_large=allow_large, announce=announce, at_once=at_once, kept_runs=runs_needed(plan))
    finished = [0]
    staged: StagedOutput | None = None
    with progress_display(announce and stderr.is_terminal) as progress:
        task = progress.add_task("migrating", total=runs_needed(plan)) if progress else None

        def advance(_run: GridRun) -> None:
            raise_if_interrupted()
            finished[0] += 1
            if progress is not None and task is not None:
                progress.advance(task)

        try:
            with staged_results(out, inputs=given_files(scenario)) as staged:
                try:
                    migration = run_migration(resolved, chosen, plan.seeds, workers=workers, scheduler=address,
                                              connect_timeout=connect_timeout, on_result=advance)
                except SchedulerUnreachable as error:
                    raise bad_input(f"--scheduler: {error}") from None
                assert staged.output is not None
                write_migration_report(staged.output, migration)
                staged.commit()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, f"after {finished[0]} of {runs_needed(plan)} runs") from None
    if json_output:
        emit_json(migration.to_json())
    elif not quiet:
        print_migration_summary(stdout, migration, out)
    raise typer.Exit(EXIT_OK if migration.holds else EXIT_VIOLATION)
