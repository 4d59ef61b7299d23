"""Building blocks the run, exploration and ablation reports share: writing a report through
:class:`OutputDir`, the scenario, design and fault tables, the invariant table, and figure
placement. The explanation of broken invariants is ``violations.py``; the first screen of a
failure report ``cause.py``.

Each report's content is written once as a list of blocks (``concertsim.reports.document``) and
rendered twice: to Markdown (``markdown.py``, for a code host, where the mermaid diagrams draw)
and to a self-contained HTML page (``html.py``). Files are written through :class:`OutputDir`,
each one atomically.
"""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.reports.broker_delivery_report import broker_row
from concertsim.reports.design_switches import SWITCHES, value_text
from concertsim.reports.document import Block, Diagram, Heading, Image, Paragraph, Table, not_applicable_text
from concertsim.reports.figures import MESSAGE_FLOW, RenderedFigure, featured_saga
from concertsim.reports.formatting import plural, seconds
from concertsim.reports.html import to_html
from concertsim.reports.markdown import to_markdown
from concertsim.reports.outputs import OutputDir
from concertsim.reports.replicas_report import replica_rows
from concertsim.reports.violations import fault_table, saga_blocks, violation_blocks
from concertsim.scenarios.schema import Design, Scenario

__all__ = [
    "MESSAGE_FLOW",
    "write_report",
    "seconds",
    "plural",
    "scenario_table",
    "fault_blocks",
    "invariant_table",
    "violation_blocks",
    "saga_blocks",
    "featured_saga",
    "figure_blocks",
]


# --- writing ---------------------------------------------------------------------------------------


def write_report(output: OutputDir, blocks: list[Block], title: str) -> None:
    """Write ``blocks`` into ``output`` as ``report.md`` and ``report.html`` (titled ``title``),
    each image block as its PNG file and each diagram's mermaid source as its file; each file
    atomically, each once."""
    written: set[str] = set()

    def write(name: str, data: bytes) -> None:
        if name not in written:
            written.add(name)
            output.write_bytes_with(name, lambda out: out.write(data))

    for block in blocks:
        if isinstance(block, Image):
            write(block.file_name, block.png)
        elif isinstance(block, Diagram):
            write(block.source_file, block.source.encode("utf-8"))
            if block.drawing is not None:
                write(block.drawing.file_name, block.drawing.png)
    output.write_text("report.md", to_markdown(blocks))
    output.write_text("report.html", to_html(blocks, title))


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


def fault_blocks(scenario: Scenario, none: str) -> list[Block]:
    """The scenario's fault schedule as a table, or the paragraph ``none`` when it has no fault."""
    if not scenario.faults:
        return [Paragraph(none)]
    return [fault_table(list(enumerate(scenario.faults)), scenario)]


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
