"""The terminal summary of a migration: one table of the stages (invariants broken, latency,
messages per booking, what first breaks at the stage), each broken invariant's rate below it, then
the verdict. Text from the user (the scenario's name) is escaped from rich markup."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from concertsim.migration import Migration, users_shifted
from concertsim.reports.migration.report import cost_text, not_applicable_by_stage, thin_notes, verdict_text
from concertsim.reports.document.formatting import plural
from concertsim.reports.sweep.report import measure_parts
from concertsim.sweep.grid import seed_range

__all__ = ["print_migration_summary", "stage_table"]

_COLUMNS = {"latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms", "messages_per_booking": "msgs/booking"}


def stage_table(migration: Migration, fault_free: bool = False) -> Table:
    """A row per stage: how many of its runs broke an invariant, three key measures (means over
    the seeds) and how many invariants first break at that stage (listed below the table); with
    ``fault_free``, the stages' runs without the scenario's faults."""
    title = f"{escape(migration.plan.base.name)} · {seed_range(list(migration.seeds))}"
    if migration.faulted:
        title += " · without faults" if fault_free else " · with its faults"
    table = Table(title=title, title_justify="left")
    table.add_column("stage")
    table.add_column("runs broken", justify="right")
    for short in _COLUMNS.values():
        table.add_column(short, justify="right")
    if not fault_free:
        table.add_column("new breaks", justify="right")
    for stage in migration.stages:
        summary = stage.fault_free if fault_free else stage.summary
        runs = summary.runs
        failed = sum(1 for run in runs if run.result.violated)
        broken = f"[red]{failed} of {len(runs)}[/red]" if failed else f"[green]0 of {len(runs)}[/green]"
        new = [] if fault_free else [f"[red]{len(stage.introduced)}[/red]" if stage.introduced else "0"]
        table.add_row(stage.stage, broken, *(measure_parts(summary.measures.get(m))[0] for m in _COLUMNS), *new)
    return table


def print_migration_summary(console: Console, migration: Migration, out: Path) -> None:
    """The stage table, each broken invariant with its rate and interval, the verdict, and where
    the results are."""
    if migration.faulted:
        console.print(stage_table(migration, fault_free=True))
    console.print(stage_table(migration))
    users = migration.plan.base.workload.users
    for stage in migration.stages:
        if shifted := users_shifted(stage.stage, users):
            console.print(f"{stage.stage}: {shifted} of {plural(users, 'user')} served by the split-out Point",
                          highlight=False, soft_wrap=True)
        for rate in stage.broken:
            interval = rate.rate
            new = " (new)" if rate.invariant in stage.introduced else ""
            unjudged = f" (n/a in {len(rate.not_applicable)})" if rate.not_applicable else ""
            console.print(f"{stage.stage}: {escape(rate.invariant)}{new} broken in {rate.violated} of {rate.runs} "
                          f"runs, {interval.estimate * 100:.0f}% [{interval.low * 100:.0f}, {interval.high * 100:.0f}]"
                          f"{unjudged}",
                          highlight=False, soft_wrap=True)
    everywhere, only_at = not_applicable_by_stage(migration)
    if everywhere:
        console.print(f"[dim]not applicable in every run of every stage: {escape(', '.join(everywhere))}[/dim]",
                      highlight=False, soft_wrap=True)
    for stage, names in only_at.items():
        console.print(f"[dim]{stage}: not applicable in every run: {escape(', '.join(names))}[/dim]",
                      highlight=False, soft_wrap=True)
    if (costs := cost_text(migration)) is not None:
        console.print(escape(costs), highlight=False, soft_wrap=True)
    for note in thin_notes(migration):
        console.print(f"[yellow]{escape(note)}[/yellow]", highlight=False, soft_wrap=True)
    colour = "green" if migration.holds else "red"
    console.print(f"[{colour}]{escape(verdict_text(migration))}[/{colour}]", soft_wrap=True, highlight=False)
    runs = len(migration.stages) * len(migration.seeds) * (2 if migration.faulted else 1)
    console.print(f"{plural(runs, 'run')}; report and migration.json written to {escape(str(out))}/",
                  soft_wrap=True, highlight=False)
