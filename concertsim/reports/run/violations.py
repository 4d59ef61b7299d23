"""The explanation of each broken invariant: its promise, why the design let it break, its first
violations with the trace records that prove them, the figure that shows it, and the saga of its
first violation drawn as a message flow and listed step by step."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.checks.base import Violation
from concertsim.models import reservations
from concertsim.reports.run.cause import explanation
from concertsim.reports.run.design_switches import explained_first
from concertsim.reports.document.blocks import Block, Diagram, Heading, Image, Paragraph, Table
from concertsim.reports.document.fault_words import fault_table
from concertsim.reports.run.figures import RenderedFigure, flow_figure_name
from concertsim.reports.document.formatting import plural, seconds, value_words
from concertsim.reports.run.mermaid import sequence_diagram
from concertsim.reports.run.saga import describe, saga_of
from concertsim.reports.run.saga_steps import relevant_records, saga_span
from concertsim.scenarios.schema import FaultSpec
from concertsim.sim.infrastructure.trace import TraceRecord

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["violation_blocks", "saga_blocks", "sagas_explained", "diagram_file",
           "EVIDENCE_FIGURES", "MAX_VIOLATIONS_SHOWN"]

MAX_VIOLATIONS_SHOWN = 5
MAX_RECORDS_SHOWN = 4
MAX_SAGA_STEPS = 60
EVIDENCE_FIGURES = {
    "no-lost-events": "lost-events",
    "seats-released-on-expiry": "seat-timeline",
    "sagas-terminate": "backlog",
}
"""The figure that shows a broken invariant, placed with its explanation."""

KIND_MEANING = {
    "safety": "a safety invariant: it must hold at every moment of the run, faults or not",
    "convergence": "a convergence invariant: it must hold once every fault is healed and the system "
                   "has settled",
}

FigureLookup = Callable[[str], "RenderedFigure | None"]
"""Finds a rendered figure by name (None if it was not drawn)."""


def diagram_file(reservation_id: str) -> str:
    """The file beside the report that holds a saga's mermaid source."""
    return f"{flow_figure_name(reservation_id, hero=False).replace('message-flow', 'sequence')}.mmd"


def _evidence(evidence: dict[str, Any], limit: int = 240) -> str:
    text = "; ".join(f"{key}: {value_words(value)}" for key, value in evidence.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _arrows(text: str) -> str:
    """Trace labels such as ``concert<-SeatReservedEvent`` with real arrows."""
    return text.replace("<-", "←").replace("->", "→")


def _records_text(records: Mapping[int, TraceRecord], violation: Violation) -> str:
    """The first records of ``violation`` described (``records``: the trace's records by number)."""
    shown = [f"#{seq} {_arrows(describe(records[seq]))}" for seq in violation.records[:MAX_RECORDS_SHOWN]
             if seq in records]
    if len(violation.records) > MAX_RECORDS_SHOWN:
        shown.append(f"and {len(violation.records) - MAX_RECORDS_SHOWN} more (summary.json)")
    return "; ".join(shown) or "-"


def _violation_rows(outcome: RunOutcome, violations: Sequence[Violation]) -> list[list[str]]:
    # One lookup for every row: on a streamed trace each lookup reads from disk.
    records = outcome.result.trace.lookup(seq for v in violations for seq in v.records[:MAX_RECORDS_SHOWN])
    return [
        [str(number), seconds(v.at), v.message, _evidence(v.evidence), _records_text(records, v)]
        for number, v in enumerate(violations, 1)
    ]


def _saga_summary(outcome: RunOutcome, reservation_id: str, steps: int, start: float, end: float) -> str:
    booked = outcome.result.table("reservation", reservations.RESERVATIONS).get(reservation_id)
    span = f"{plural(steps, 'step')} from {seconds(start)} to {seconds(end)}"
    if booked is None:
        return f"{reservation_id}: {span}."
    ending = f"it ends {booked.status}"
    if booked.failure_reason:
        ending += f" ({booked.failure_reason})"
    return (
        f"{reservation_id}: user {booked.user_id} held seat {booked.seat_no} of date {booked.date_id} at "
        f"{seconds(booked.held_at)}, the hold expiring at {seconds(booked.hold_expires_at)}; {ending}. "
        f"The saga has {span}."
    )


def _faults_during(outcome: RunOutcome, start: float, end: float) -> list[tuple[int, FaultSpec]]:
    """The scheduled faults whose window overlaps ``start``..``end``."""
    faults = outcome.result.scenario.faults
    heal_at = outcome.result.phases.heal_at
    chosen: set[int] = set()
    for window in outcome.result.fault_windows:
        lifted = window["end"] if window["end"] is not None else heal_at
        if window["start"] <= end and lifted >= start and window["index"] < len(faults):
            chosen.add(window["index"])
    return [(index, faults[index]) for index in sorted(chosen)]


def saga_blocks(
    outcome: RunOutcome, reservation_id: str, flow: RenderedFigure | None, *, drawn_elsewhere: str = ""
) -> list[Block]:
    """One reservation's saga: a summary, the faults active meanwhile, its drawing (``flow``, or
    a note of where the report draws it) with its mermaid source beside the report, and its steps
    in order."""
    result = outcome.result
    saga = saga_of(result, reservation_id)
    records = relevant_records(saga)
    if not records:
        return [Paragraph(f"The trace holds no record of {reservation_id}'s saga.")]
    start, end = saga_span(saga)
    blocks: list[Block] = [
        Heading(4, f"The saga of {reservation_id}"),
        Paragraph(_saga_summary(outcome, reservation_id, len(records), start, end)),
    ]
    faults = _faults_during(outcome, start, end)
    if faults:
        blocks += [Paragraph("Faults active while this saga ran:"), fault_table(faults, result.scenario)]
    else:
        blocks.append(Paragraph("No fault was active while this saga ran."))
    drawing = Image(f"{flow.name}.png", flow.title, flow.caption, flow.png) if flow is not None else None
    blocks.append(Diagram(sequence_diagram(saga, scenario=result.scenario), diagram_file(reservation_id), drawing,
                          "" if drawing is not None else drawn_elsewhere))
    rows = [[f"{r.at:.3f}", r.party, _arrows(describe(r))] for r in records]
    if len(rows) > MAX_SAGA_STEPS:
        head, tail = MAX_SAGA_STEPS // 2, MAX_SAGA_STEPS - MAX_SAGA_STEPS // 2
        hidden = len(rows) - head - tail
        rows = rows[:head] + [["...", "...", f"{hidden} steps left out (all in trace.jsonl)"]] + rows[-tail:]
    blocks += [
        Paragraph("Its steps in order (time in simulated seconds):"),
        Table(["time", "party", "what happened"], rows),
    ]
    return blocks


def sagas_explained(outcome: RunOutcome) -> list[str]:
    """The sagas :func:`violation_blocks` draws: the first violation's saga of each broken
    invariant, each once, in the order shown."""
    drawn: list[str] = []
    for verdict in explained_first(outcome.verdicts, outcome.result.scenario.design):
        saga = next((v.saga for v in verdict.violations if v.saga), None)
        if saga is not None and saga not in drawn:
            drawn.append(saga)
    return drawn


def _invariant_blocks(outcome: RunOutcome, verdict: InvariantVerdict, figure: FigureLookup) -> list[Block]:
    invariant = verdict.invariant
    count = len(verdict.violations)
    blocks: list[Block] = [
        Heading(3, f"✘ {invariant.id}: {plural(count, 'violation')}"),
        Paragraph(f"What it promises: {invariant.promise} "
                  f"This is {KIND_MEANING.get(invariant.kind, invariant.kind)}."),
        Paragraph(f"Why it broke: {explanation(outcome, invariant.id)}"),
        Table(["#", "at", "what went wrong", "evidence", "trace records that show it"],
              _violation_rows(outcome, verdict.violations[:MAX_VIOLATIONS_SHOWN])),
    ]
    if count > MAX_VIOLATIONS_SHOWN:
        blocks.append(Paragraph(f"... and {count - MAX_VIOLATIONS_SHOWN} more, all listed in summary.json."))
    shown = figure(EVIDENCE_FIGURES.get(invariant.id, ""))
    if shown is not None:
        blocks.append(Image(f"{shown.name}.png", shown.title, shown.caption, shown.png))
    return blocks


def violation_blocks(outcome: RunOutcome, figure: FigureLookup, *, hero_saga: str | None = None) -> list[Block]:
    """For each violated invariant (those the design's differences explain first): its promise, why it broke, its first violations with their
    trace records, the figure that shows it, and the saga of the first violation that belongs to
    one (each saga once). ``figure`` finds the rendered figures; the saga ``hero_saga`` is drawn
    at the top of the report, so it is not drawn again."""
    blocks: list[Block] = []
    drawn: set[str] = set()
    for verdict in explained_first(outcome.verdicts, outcome.result.scenario.design):
        blocks += _invariant_blocks(outcome, verdict, figure)
        saga = next((v.saga for v in verdict.violations if v.saga), None)
        if saga is None:
            continue
        if saga in drawn:
            blocks.append(Paragraph(f"Its first violation is in the saga of {saga}, shown above."))
            continue
        drawn.add(saga)
        hero = saga == hero_saga
        flow = None if hero else figure(flow_figure_name(saga, hero=False))
        blocks += saga_blocks(outcome, saga, flow, drawn_elsewhere="at the top of this report" if hero else "")
    return blocks
