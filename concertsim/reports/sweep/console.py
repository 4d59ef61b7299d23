"""The terminal summary of a sweep: a rich table per cell (the invariants it broke, with their
violation rates, and the key measures, each with its 95% interval), then the verdict. Text from
the user (the scenario's name, the cells' values) is escaped from rich markup."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from concertsim.metrics import RATIO_DENOMINATORS
from concertsim.reports.document.formatting import plural
from concertsim.reports.sweep.report import cell_name, measure_parts, verdict_text
from concertsim.statistics import MIN_DENOMINATOR, thin_denominator
from concertsim.sweep.aggregate import CellSummary, GridResult

__all__ = ["print_sweep_summary", "cell_table", "KEY_MEASURES"]

KEY_MEASURES = {
    "funnel_confirmed": "users confirmed",
    "confirmed_per_minute": "bookings per minute",
    "latency_p95_ms": "latency p95 (ms)",
    "pay_p95_ms": "payment p95 (ms)",
    "time_to_convergence_s": "convergence (s)",
    "messages_per_booking": "messages per booking",
}
"""The measures the terminal shows per cell, by a short name (the report shows them all)."""


def cell_table(result: GridResult, cell: CellSummary) -> Table:
    seeds = plural(len(cell.runs), "seed")
    title = f"{cell_name(cell)} · {seeds}" if result.plan.swept else f"{result.plan.base.name} · {seeds}"
    table = Table(title=escape(title), title_justify="left")
    table.add_column("")
    table.add_column("rate · mean", justify="right")
    table.add_column("95% interval")
    runs = len(cell.runs)
    if cell.holds:
        judged = "all judged held" if cell.not_applicable else "all held"
        table.add_row("invariants", f"[green]{judged} in {runs} of {runs} runs[/green]", "")
    for rate in cell.broken:
        interval = rate.rate
        table.add_row(f"[red]{escape(rate.invariant)}[/red]",
                      f"[red]broken in {rate.violated} of {rate.runs} runs ({interval.estimate * 100:.0f}%)[/red]",
                      f"[{interval.low * 100:.0f}%, {interval.high * 100:.0f}%]".replace("[", r"\["))
    for name, short in KEY_MEASURES.items():
        estimate, spread = measure_parts(cell.measures.get(name))
        if name == "time_to_convergence_s" and cell.measures.get(name) is None and not cell.cell.scenario.faults:
            estimate, spread = "n/a", "no faults"
        if name in RATIO_DENOMINATORS and thin_bookings(cell) is not None:
            spread = "few bookings"
        table.add_row(short, estimate, escape(spread))
    return table


def thin_bookings(cell: CellSummary) -> float | None:
    """The cell's mean bookings per run when too few for a per-booking measure
    (:func:`~concertsim.statistics.thin_denominator`), else None."""
    return thin_denominator([run.result.confirmed for run in cell.runs]) if cell.runs else None


def not_applicable_note(cell: CellSummary) -> str | None:
    """The invariants some of the cell's runs could not judge: those no run judged, and those only
    some runs did (their rates count the runs that judged them); None when every run judged every
    invariant."""
    never = [rate.invariant for rate in cell.not_applicable]
    partly = [f"{rate.invariant} in {len(rate.not_applicable)} of {len(cell.runs)}" for rate in cell.rates.values()
              if rate.not_applicable and rate.applicable]
    parts = ([f"in every run: {', '.join(never)}"] if never else []) + ([f"in some runs: {', '.join(partly)}"]
                                                                       if partly else [])
    return "not applicable " + "; ".join(parts) if parts else None


def print_sweep_summary(console: Console, result: GridResult, out: Path, resumed: int = 0) -> None:
    """A heading, a table per cell, the verdict, and where the results are."""
    plan = result.plan
    if plan.swept:
        console.print(f"[bold]{escape(plan.base.name)}[/bold] over {len(plan.cells)} cells × "
                      f"{plural(len(plan.seeds), 'seed')}", highlight=False)
    for cell in result.cells:
        console.print(cell_table(result, cell))
        if (booked := thin_bookings(cell)) is not None:
            console.print(f"[dim]messages per booking rests on {booked:.2g} bookings per run (under "
                          f"{MIN_DENOMINATOR:g}): counting noise, not a cost[/dim]", highlight=False, soft_wrap=True)
        if (note := not_applicable_note(cell)) is not None:
            console.print(f"[dim]{escape(note)}[/dim]", highlight=False, soft_wrap=True)
    colour = "green" if result.holds else "red"
    console.print(f"[{colour}]{escape(verdict_text(result))}[/{colour}]", soft_wrap=True)
    again = ""
    if resumed:
        again = f" ({'all' if resumed == len(result.runs) else resumed} of them finished before this --resume)"
    console.print(f"{plural(len(result.runs), 'run')}{again}; report, summary.json and sweep.jsonl written to "
                  f"{escape(str(out))}/", soft_wrap=True, highlight=False)
