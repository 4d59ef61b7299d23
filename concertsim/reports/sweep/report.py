"""The sweep report: which cells of the grid broke which invariants, how often (Wilson 95%
intervals), each cell's headline measures (percentile bootstrap 95% intervals over the seeds), and figures of
the measures against the swept values.

The formatting helpers here (:func:`rate_text`, :func:`measure_text`, :func:`cell_name`) are
shared with the terminal summary (``sweep_console``).
"""

from __future__ import annotations

import shlex

from concertsim.metrics import MEASURES, RATIO_DENOMINATORS
from concertsim.reports.document.blocks import Block, FileLink, Heading, Image, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.plotting.base import RenderedFigure
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.document.formatting import plural
from concertsim.reports.document.writing import write_report
from concertsim.reports.sweep.figures import render_sweep_figures, short_keys
from concertsim.scenarios.loader import builtin_names
from concertsim.statistics import MIN_DENOMINATOR, Interval, rate_interval, thin_denominator
from concertsim.sweep.aggregate import CellSummary, GridResult, InvariantRate
from concertsim.sweep.grid import seed_range
from concertsim.sweep.journal import JOURNAL_FILE

__all__ = ["sweep_blocks", "write_sweep_report", "rate_text", "measure_text", "measure_parts", "cell_name",
           "verdict_text"]

MAX_BROKEN_RUNS_SHOWN = 30
MAX_CELLS_IN_VERDICT = 4


def cell_name(summary: CellSummary) -> str:
    """A cell's label, or ``the scenario as given`` for the one cell of a sweep without a matrix."""
    return summary.cell.label or "the scenario as given"


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def rate_text(rate: InvariantRate) -> str:
    """``✘ 3 of 5 · 60% [23%, 88%]`` (✔ for none) over the runs that judged it, ``(n/a in 2)`` after
    it when some runs could not; ``n/a: <reason>`` when none could."""
    if rate.rate is None:
        return not_applicable_text(rate.reason)
    mark = "✘" if rate.violated else "✔"
    interval = rate.rate
    unjudged = f" (n/a in {len(rate.not_applicable)})" if rate.not_applicable else ""
    return (f"{mark} {rate.violated} of {rate.runs} · {_percent(interval.estimate)} "
            f"[{_percent(interval.low)}, {_percent(interval.high)}]{unjudged}")


def _number(value: float, digits: int) -> str:
    return f"{value:,.{digits}f}"


def measure_parts(interval: Interval | None) -> tuple[str, str]:
    """The mean and its interval as text (``1,234``, ``[1,100, 1,350]``), with fewer decimals the
    larger the values; ``-`` for none, ``all equal`` for an interval of width zero."""
    if interval is None:
        return "-", ""
    size = max(abs(interval.estimate), abs(interval.low), abs(interval.high))
    digits = 0 if size >= 100 else 1 if size >= 10 else 2
    if interval.low == interval.high and float(interval.estimate).is_integer():
        digits = 0
    estimate = _number(interval.estimate, digits)
    if interval.low == interval.high:
        return estimate, "all equal" if interval.n > 1 else "one run"
    return estimate, f"[{_number(interval.low, digits)}, {_number(interval.high, digits)}]"


def measure_text(interval: Interval | None) -> str:
    """``1,234 [1,100, 1,350]`` (:func:`measure_parts` in one)."""
    estimate, spread = measure_parts(interval)
    if spread.startswith("["):
        return f"{estimate} {spread}"
    return f"{estimate} ({spread})" if spread else estimate


def verdict_text(result: GridResult) -> str:
    """One line: every invariant held, or which cells broke which invariants and in how many runs."""
    plan = result.plan
    shape = (f"{len(plan.cells)} cells × {plural(len(plan.seeds), 'seed')}" if plan.swept
             else plural(len(plan.seeds), "seed"))
    if result.holds:
        unjudged = any(rate.not_applicable for cell in result.cells for rate in cell.rates.values())
        if not unjudged:
            return f"Every invariant held in every run: {plural(len(result.runs), 'run')} ({shape})."
        never = [name for name in (result.cells[0].rates if result.cells else {})
                 if all(name in c.rates and not c.rates[name].applicable for c in result.cells)]
        tail = f"; {len(never)} not applicable in every run" if never else ""
        return f"Every invariant judged held in every run: {plural(len(result.runs), 'run')} ({shape}){tail}."
    broken = [cell for cell in result.cells if not cell.holds]
    parts = []
    for cell in broken[:MAX_CELLS_IN_VERDICT]:
        what = ", ".join(f"{rate.invariant} ({rate.violated} of {rate.runs} runs)" for rate in cell.broken)
        parts.append(f"{cell_name(cell)} broke {what}" if plan.swept else what)
    more = len(broken) - MAX_CELLS_IN_VERDICT
    tail = f"; and {more} more cell{'s' if more != 1 else ''} (see the table)" if more > 0 else ""
    if not plan.swept:
        return f"Invariants broken over {shape}: " + "; ".join(parts) + "."
    return f"Invariants broken in {len(broken)} of {len(result.cells)} cells: " + "; ".join(parts) + tail + "."


def _swept_table(result: GridResult) -> Table:
    plan = result.plan
    rows = [["scenario", plan.base.name]]
    if plan.base.description:
        rows.append(["description", plan.base.description])
    for axis in plan.axes:
        rows.append([f"swept: {axis.key}", ", ".join(axis.texts)])
    if not plan.swept:
        rows.append(["swept", "nothing: the scenario as given (no --matrix)"])
    rows += [
        ["seeds", f"{seed_range(plan.seeds).removeprefix('seeds ').removeprefix('seed ')}, the same in every cell"],
        ["runs", f"{len(result.runs)} ({len(plan.cells)} cell{'s' if len(plan.cells) != 1 else ''} × "
                 f"{plural(len(plan.seeds), 'seed')})"],
        ["fingerprint", plan.fingerprint[:16]],
    ]
    return Table(["what", "value"], rows)


def _rate_blocks(result: GridResult) -> list[Block]:
    broken = result.broken_invariants()
    per_cell = len(result.plan.seeds)
    bound = rate_interval(0, per_cell)
    names = [name for name in (result.cells[0].rates if result.cells else {}) if name not in broken]
    held = [name for name in names if all(c.rates[name].runs == len(c.runs) for c in result.cells if name in c.rates)]
    never = {name: next(c.rates[name].reason for c in result.cells if name in c.rates) for name in names
             if all(not c.rates[name].applicable for c in result.cells if name in c.rates)}
    partly = [name for name in names if name not in held and name not in never]
    blocks: list[Block] = [Heading(2, "Violation rate per cell")]
    if broken:
        blocks += [
            Paragraph("How many of a cell's runs broke each invariant that broke anywhere, with the rate's 95% "
                      "Wilson interval: with few seeds the interval is wide, and 0 of n is not a rate of zero."),
            Table(["cell", "runs", *broken],
                  [[cell_name(c), str(len(c.runs)), *(rate_text(c.rates[name]) if name in c.rates else "-"
                                                      for name in broken)]
                   for c in result.cells]),
        ]
    if held and bound is not None:
        others = "The other " if broken else "All "
        blocks.append(Paragraph(
            f"{others}{len(held)} invariants held in every run of every cell: {', '.join(held)}. With "
            f"{plural(per_cell, 'run')} per cell, each one's rate is at most {_percent(bound.high)} "
            "at 95% confidence (Wilson)."))
    if partly:
        blocks += [
            Paragraph("Held wherever judged, but some runs could not judge them (not applicable there): a run "
                      "that could not judge a promise counts neither as holding nor as breaking it."),
            Table(["cell", "runs", *partly],
                  [[cell_name(c), str(len(c.runs)), *(rate_text(c.rates[name]) if name in c.rates else "-"
                                                      for name in partly)]
                   for c in result.cells]),
        ]
    if never:
        blocks.append(Paragraph("Not applicable in any run, so never judged: "
                                + "; ".join(f"{name} ({reason})" for name, reason in never.items()) + "."))
    return blocks


def _measure_blocks(result: GridResult) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "Measures per cell"),
        Paragraph("Each headline measure's mean over the cell's seeds with its 95% percentile bootstrap interval "
                  "(never outside what the measure can be); \"-\" "
                  "where no run had a value (no payment, no confirmed booking, no fault to converge from). Over few "
                  "seeds the interval is the values' whole range. A ratio over fewer than "
                  f"{MIN_DENOMINATOR:g} bookings per run is marked: counting noise, not a cost."),
    ]
    if not result.plan.swept:
        (cell,) = result.cells
        return blocks + [Table(
            ["measure", "mean [95% interval]", "runs with a value"],
            [[MEASURES[name], measure_text(cell.measures[name]) + _noise(cell, name),
              f"{len(cell.values(name))} of {len(cell.runs)}"]
             for name in MEASURES],
        )]
    names = short_keys([axis.key for axis in result.plan.axes])
    blocks[-1] = Paragraph(blocks[-1].text + " One column per cell; a value that not every run of the cell had "
                           "says in how many it had one.")
    return blocks + [Table(
        ["measure", *(_cell_column(result, cell, names) for cell in result.cells)],
        [[MEASURES[name], *(_cell_value(cell, name) for cell in result.cells)] for name in MEASURES],
    )]


def _cell_column(result: GridResult, cell: CellSummary, names: dict[str, str]) -> str:
    """A cell's column heading: its values by their short keys (``publish=outbox, users=5``)."""
    return ", ".join(f"{names[axis.key]}={axis.texts[axis.values.index(cell.cell.values[axis.key])]}"
                     for axis in result.plan.axes if axis.key in cell.cell.values)


def _cell_value(cell: CellSummary, name: str) -> str:
    """One measure of one cell: its mean and interval, and in how many runs it had a value when
    not in all."""
    had = len(cell.values(name))
    text = measure_text(cell.measures[name]) + _noise(cell, name)
    return text if had in (0, len(cell.runs)) else f"{text} ({had} of {len(cell.runs)} runs)"


def _noise(cell: CellSummary, name: str) -> str:
    """`` (over 0.7 bookings per run: noise)`` for a ratio measure over too few bookings."""
    if name not in RATIO_DENOMINATORS or not cell.runs:
        return ""
    booked = thin_denominator([run.result.confirmed for run in cell.runs])
    return "" if booked is None else f" (over {booked:.2g} bookings per run: noise)"


def _figure_blocks(result: GridResult, figures: list[RenderedFigure]) -> list[Block]:
    title = "Measures against the swept values" if result.plan.swept else "Measures over the seeds"
    blocks: list[Block] = [Heading(2, title)]
    if not figures:
        blocks.append(Paragraph("No figure: every headline measure was the same in every run (or had no value)."))
    for figure in figures:
        blocks.append(Image(f"{figure.name}.png", figure.title, figure.caption, figure.png))
    return blocks


def _reproduce_command(result: GridResult, cell: CellSummary, seed: int) -> str:
    name = result.plan.base.name
    scenario = name if name in builtin_names() else "SCENARIO"
    sets = " ".join(f"--set {shlex.quote(f'{key}={text}')}" for key, text in cell.cell.texts.items())
    return f"concertsim run {shlex.quote(scenario)} --seed {seed}" + (f" {sets}" if sets else "")


def _broken_run_blocks(result: GridResult) -> list[Block]:
    rows = []
    first: tuple[CellSummary, int] | None = None
    for cell in result.cells:
        for run in cell.runs:
            if run.result.violated:
                first = first or (cell, run.result.seed)
                message = run.result.first_violations[0] if run.result.first_violations else ""
                if len(message) > 200:
                    message = message[:197] + "..."
                rows.append([cell_name(cell), str(run.result.seed), ", ".join(run.result.violated), message])
    if first is None:
        return []
    shown = rows[:MAX_BROKEN_RUNS_SHOWN]
    blocks: list[Block] = [
        Heading(2, "Runs that broke an invariant"),
        Table(["cell", "seed", "broke", "first violation"], shown),
    ]
    if len(rows) > len(shown):
        blocks.append(Paragraph(f"And {len(rows) - len(shown)} more; {JOURNAL_FILE} lists every run."))
    blocks.append(Paragraph(
        f"To see one run's story (its report, trace and saga), run it alone with the sweep's own --set options, "
        f"if it had any: `{_reproduce_command(result, *first)}`"))
    return blocks


def sweep_blocks(result: GridResult, figures: list[RenderedFigure]) -> list[Block]:
    """The report's content: verdict, what was swept, violation rates, measures, figures, and the
    runs that broke something."""
    plan = result.plan
    shape = f"{len(plan.cells)} cells × {plural(len(plan.seeds), 'seed')}" if plan.swept else plural(len(plan.seeds), "seed")
    return [
        Heading(1, f"Sweep of {plan.base.name}: {shape}"),
        Verdict(result.holds, verdict_text(result)),
        Heading(2, "What was swept"),
        _swept_table(result),
        FileLink(JOURNAL_FILE, "Every run, one JSON line each (cell, seed, trace SHA-256, violations, measures): "),
        FileLink("summary.json", "The aggregate as JSON: "),
        *_rate_blocks(result),
        *_measure_blocks(result),
        *_figure_blocks(result, figures),
        *_broken_run_blocks(result),
    ]


def write_sweep_report(output: OutputDir, result: GridResult) -> None:
    """Write ``report.md``, ``report.html`` and the figures' PNG files of a finished sweep."""
    write_report(output, sweep_blocks(result, render_sweep_figures(result)), f"concertsim sweep of {result.plan.base.name}")
