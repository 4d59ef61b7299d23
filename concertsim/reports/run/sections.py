"""Sections of a run report that the exploration report shows for its counterexample too: the
scenario and design table, the invariant table, and the "Figures" section of every figure not
already placed beside what it explains. The explanation of broken invariants is ``violations.py``;
the first screen of a failure report ``cause.py``."""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.reports.document.blocks import Block, Diagram, Heading, Image, Paragraph, Table, not_applicable_text
from concertsim.reports.plotting.base import RenderedFigure
from concertsim.reports.run.broker_delivery import broker_row
from concertsim.reports.run.design_switches import SWITCHES, value_text
from concertsim.reports.run.replicas import replica_rows
from concertsim.scenarios.schema import Design, Scenario

__all__ = ["scenario_table", "invariant_table", "figure_blocks"]


# --- scenario, design and faults -------------------------------------------------------------------


def _verdict_cell(verdict: InvariantVerdict) -> str:
    if verdict.not_applicable is not None:
        return not_applicable_text(verdict.not_applicable)
    return "✔\u00a0holds" if verdict.holds else "✘\u00a0violated"


def _design_rows(design: Design) -> list[list[str]]:
    default = Design()
    rows = []
    for switch in SWITCHES:
        value = getattr(design, switch.field)
        shown = value_text(value) if switch.field != "partitioning" else f"by {value}"
        if value != getattr(default, switch.field):
            shown += " (changed from the default)"
        rows.append([switch.label, shown, f"{switch.meaning} (seed {switch.seed_section})"])
    return rows


def scenario_table(scenario: Scenario, seed: int) -> Table:
    """The scenario's settings and design switches, each with what it means."""
    workload, concerts, rules = scenario.workload, scenario.concerts, scenario.rules
    rows = [
        ["scenario", scenario.name, ""],
        ["description", scenario.description or "-", ""],
        ["seed", str(seed), "the run is a pure function of scenario and seed"],
        *_design_rows(scenario.design),
        *([row] if (row := broker_row(scenario)) is not None else []),
        ["users", f"{workload.users} ({workload.arrival.replace('_', ' ')})",
         f"arriving within {workload.flash_window:g} s" if workload.arrival == "flash_crowd"
         else f"{workload.rate_per_second:g} per second for {workload.duration:g} s"],
        ["concert dates × seats", f"{concerts.dates} × {concerts.seats_per_date}",
         f"price {concerts.price:,} points"],
        ["hold TTL", f"{rules.hold_ttl:g} s", "an unpaid hold expires after this"],
        ["queue capacity", str(rules.queue_capacity), "active waiting-queue tokens at once"],
        *replica_rows(scenario),
        ["faults", str(len(scenario.faults)), "listed in the fault schedule" if scenario.faults else "none"],
    ]
    return Table(["setting", "value", "what it means"], rows)


# --- invariants ------------------------------------------------------------------------------------


def invariant_table(verdicts: Sequence[InvariantVerdict]) -> Table:
    """One row per verdict: the invariant, its kind and promise, whether it held, was violated or
    could not be judged (n/a, with the reason), and its violations ("-" when not judged)."""
    rows = [
        [v.invariant.id, v.invariant.kind, v.invariant.promise, _verdict_cell(v),
         "-" if v.not_applicable is not None else str(len(v.violations))]
        for v in verdicts
    ]
    return Table(["invariant", "kind", "what it promises", "verdict", "violations"], rows)


# --- figures ---------------------------------------------------------------------------------------


def _placed(blocks: list[Block]) -> set[str]:
    names = {b.file_name for b in blocks if isinstance(b, Image)}
    return names | {b.drawing.file_name for b in blocks if isinstance(b, Diagram) and b.drawing is not None}


def figure_blocks(
    placed_so_far: list[Block], figures: Sequence[RenderedFigure], omitted: Sequence[tuple[str, str]] = ()
) -> list[Block]:
    """A "Figures" section of every figure not already shown beside what it explains, and a line
    on each figure left out for having nothing to show."""
    placed = _placed(placed_so_far)
    shown = [f for f in figures if f"{f.name}.png" not in placed]
    if not shown and not omitted:
        return []
    blocks: list[Block] = [Heading(2, "Figures")]
    for figure in shown:
        image = Image(f"{figure.name}.png", figure.title, figure.caption, figure.png)
        blocks += [Heading(3, figure.title), image]
    if omitted:
        blocks += [
            Paragraph("Left out, with nothing to show in this run:"),
            Table(["figure", "why it is not drawn"], [[title, why] for title, why in omitted]),
        ]
    return blocks
