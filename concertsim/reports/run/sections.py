"""Sections of a run report that the exploration report shows for its counterexample too: the
scenario's settings (those that differ from the defaults, the rest folded away), the invariant table, and the "Figures" section of every figure not
already placed beside what it explains. The explanation of broken invariants is ``violations.py``;
the first screen of a failure report ``cause.py``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.metrics.migration_timeline import chained_timelines
from concertsim.reports.document.blocks import (
    Block,
    Diagram,
    Folded,
    Heading,
    Image,
    Paragraph,
    Table,
    not_applicable_text,
)
from concertsim.reports.plotting.base import RenderedFigure
from concertsim.reports.run.broker_delivery import broker_row
from concertsim.reports.run.design_switches import SWITCHES, value_text
from concertsim.reports.run.replicas import replica_rows
from concertsim.scenarios.schema import Concerts, Design, Rules, Scenario, Workload

__all__ = ["scenario_blocks", "invariant_table", "figure_blocks", "DESIGN_SECTION"]


# --- scenario, design and faults -------------------------------------------------------------------


def _verdict_cell(verdict: InvariantVerdict) -> str:
    if verdict.not_applicable is not None:
        return not_applicable_text(verdict.not_applicable)
    return "✔\u00a0holds" if verdict.holds else "✘\u00a0violated"


DESIGN_SECTION = "design section"
"""How a report refers to a section of the design it simulates (``design section 4.2.2``), so that
it never reads like the run's random seed."""


def _not_applicable_setting(field: str, scenario: Scenario) -> str | None:
    """Why a design switch cannot take effect in ``scenario``, or None when it can."""
    design = scenario.design
    if field in ("single_relay", "fencing") and all(spec.replicas == 1 for _, spec in scenario.services):
        return "every service runs as one replica"
    if field == "point_shift" and design.topology != "monolith":
        return f"a traffic shift happens only at the monolith stage (design.topology={design.topology})"
    if field == "shift_replication" and not design.point_shift:
        return "no traffic is shifted to the split-out Point (design.point_shift=0)"
    return None


def _design_rows(scenario: Scenario) -> tuple[list[list[str]], list[list[str]]]:
    """The design switches as rows: those set otherwise than the default design, and the rest."""
    design, default = scenario.design, Design()
    changed, unchanged = [], []
    for switch in SWITCHES:
        value = getattr(design, switch.field)
        shown = value_text(value) if switch.field != "partitioning" else f"by {value}"
        if (why := _not_applicable_setting(switch.field, scenario)) is not None:
            shown = f"{not_applicable_text(why)} (set: {shown})"
        meaning = f"{switch.meaning} ({DESIGN_SECTION} {switch.seed_section})"
        if value != getattr(default, switch.field):
            changed.append([switch.label, f"{shown} (changed from the default)", meaning])
        else:
            unchanged.append([switch.label, shown, meaning])
    return changed, unchanged


def _workload_row(scenario: Scenario) -> tuple[list[str], bool]:
    workload, default = scenario.workload, Workload()
    flash = workload.arrival == "flash_crowd"
    row = ["users", f"{workload.users} ({workload.arrival.replace('_', ' ')})",
           f"arriving within {workload.flash_window:g} s" if flash
           else f"{workload.rate_per_second:g} per second for {workload.duration:g} s"]
    shape = ("users", "arrival", "flash_window") if flash else ("users", "arrival", "rate_per_second", "duration")
    return row, any(getattr(workload, f) != getattr(default, f) for f in shape)


def scenario_blocks(scenario: Scenario, seed: int) -> list[Block]:
    """The scenario's settings, each with what it means: its name, description and random seed,
    then every setting that differs from the defaults; the settings at their defaults folded away
    below. A design switch that cannot take effect in this scenario shows n/a with the reason."""
    concerts, rules = scenario.concerts, scenario.rules
    default_concerts, default_rules = Concerts(), Rules()
    changed, unchanged = _design_rows(scenario)
    workload, workload_changed = _workload_row(scenario)
    others: list[tuple[list[str], bool]] = [
        *([(row, True)] if (row := broker_row(scenario)) is not None else []),
        (workload, workload_changed),
        (["concert dates × seats", f"{concerts.dates} × {concerts.seats_per_date}", f"price {concerts.price:,} points"],
         any(getattr(concerts, f) != getattr(default_concerts, f) for f in ("dates", "seats_per_date", "price"))),
        (["hold TTL", f"{rules.hold_ttl:g} s", "an unpaid hold expires after this"],
         rules.hold_ttl != default_rules.hold_ttl),
        (["queue capacity", str(rules.queue_capacity), "active waiting-queue tokens at once"],
         rules.queue_capacity != default_rules.queue_capacity),
        *((row, True) for row in replica_rows(scenario)),
        (["faults", str(len(scenario.faults)), "listed in the fault schedule" if scenario.faults else "none"],
         bool(scenario.faults)),
    ]
    rows = [
        ["scenario", scenario.name, ""],
        ["description", scenario.description or "-", ""],
        ["seed", str(seed), "the random seed: the run is a pure function of scenario and seed"],
        *changed,
        *(row for row, differs in others if differs),
    ]
    header = ["setting", "value", "what it means"]
    folded = [*unchanged, *(row for row, differs in others if not differs)]
    blocks: list[Block] = [Table(header, rows)]
    if folded:
        summary = "1 more setting, at its default" if len(folded) == 1 else f"{len(folded)} more settings, at their defaults"
        blocks.append(Folded(summary, (Table(header, folded),)))
    return blocks


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


def migration_blocks(migration: dict[str, Any] | None, verdicts: Sequence[InvariantVerdict] = ()) -> list[Block]:
    """The migration plan the run carried (``metrics["migration"]``): its safeguards, what each
    step did, in the order it happened, and, for each broken promise, the step under way when it
    first showed; nothing when no plan ran."""
    if migration is None:
        return []
    moves = chained_timelines(migration)
    chained = len(moves) > 1
    rows = []
    steps: list[dict[str, Any]] = []
    for move in moves:
        for step in move.get("steps", []):
            details = ", ".join(f"{k}={v}" for k, v in step.items()
                                if k not in ("at", "step", "action", "outcome", "sample"))
            rows.append([f"{step['at']:g} s", *([move["service"]] if chained else []), str(step["step"]),
                         step["action"], step["outcome"], details or "-"])
            steps.append({**step, "service": move["service"]} if chained else step)
    switches = "; ".join(
        (f"{move['service']}: " if chained else "")
        + ", ".join(f"{name} {move[name]}" for name in ("capture", "acks", "verify", "catch_up", "fence") if name in move)
        for move in moves)
    services = ", then ".join(move.get("service", "point") for move in moves)
    return [
        Heading(2, "Migration plan"),
        Paragraph(f"The run moved {services} to {'their own stores' if chained else 'its own store'} under the workload and "
                  f"the faults ({switches}). Each step as it happened; the figure \"The migration plan over time\" "
                  "draws it" + (", a figure for each move" if chained else "") + "."),
        Table(["at", *(["service"] if chained else []), "step", "action", "outcome", "details"], rows),
        *_broken_during(steps, verdicts),
    ]


def _broken_during(steps: Sequence[dict[str, Any]], verdicts: Sequence[InvariantVerdict]) -> list[Block]:
    """Which step was under way when each broken promise first showed (the last step begun by then)."""
    def named(step: dict[str, Any]) -> str:
        service = f"{step['service']}'s " if "service" in step else ""
        return f"{service}step {step['step']} ({step['action']}, {step['outcome']})"

    rows = []
    for verdict in verdicts:
        if not verdict.violated:
            continue
        timed = [v.at for v in verdict.violations if v.at is not None]
        if not timed:  # judged on the stores the run ended with
            rows.append([verdict.invariant.id, "at the end", f"after {named(steps[-1])}" if steps else "-"])
            continue
        first = min(timed)
        begun = [step for step in steps if step["at"] <= first]
        rows.append([verdict.invariant.id, f"{first:g} s", named(begun[-1]) if begun else "before the plan began"])
    if not rows:
        return []
    return [Paragraph("Where the plan stood when each broken promise first showed:"),
            Table(["invariant", "first violation", "under way then"], rows)]
