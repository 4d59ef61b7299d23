"""Building blocks the run, exploration and ablation reports share: writing a report through
:class:`OutputDir`, formatting helpers, the scenario, design and fault tables, the invariant table,
the explanation of each broken invariant with the saga that shows how, and figure placement.

Each report's content is written once as a list of blocks (``concertsim.reports.document``) and
rendered twice: to Markdown (``markdown.py``, for a code host, where the mermaid diagrams draw)
and to a self-contained HTML page (``html.py``). Files are written through :class:`OutputDir`,
each one atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.checks.base import Violation
from concertsim.models import reservations
from concertsim.reports import figures as run_figures
from concertsim.reports.document import Block, Code, Heading, Image, Paragraph, Table
from concertsim.reports.figures import RenderedFigure
from concertsim.reports.html import to_html
from concertsim.reports.markdown import to_markdown
from concertsim.reports.mermaid import relevant_records, sequence_diagram
from concertsim.reports.outputs import OutputDir
from concertsim.reports.saga import describe, saga_of
from concertsim.scenarios.schema import MESSAGE_FAULTS, Design, FaultSpec, Scenario

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

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

MAX_VIOLATIONS_SHOWN = 5
MAX_SAGA_STEPS = 60
MESSAGE_FLOW = "message-flow"

KIND_MEANING = {
    "safety": "a safety invariant: it must hold at every moment of the run, faults or not",
    "convergence": "a convergence invariant: it must hold once every fault is healed and the system "
                   "has settled",
}


# --- writing ---------------------------------------------------------------------------------------


def write_report(output: OutputDir, blocks: list[Block], title: str) -> None:
    """Write ``blocks`` into ``output`` as ``report.md`` and ``report.html`` (titled ``title``),
    and each image block as its PNG file; each file atomically."""
    for block in blocks:
        if isinstance(block, Image):
            output.write_bytes_with(block.file_name, lambda out, png=block.png: out.write(png))
    output.write_text("report.md", to_markdown(blocks))
    output.write_text("report.html", to_html(blocks, title))


# --- small formatting helpers ----------------------------------------------------------------------


def seconds(value: float | None) -> str:
    """Simulated seconds to two decimals with their unit, or "-" for none or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}\u00a0s"  # a no-break space keeps number and unit together in a narrow column


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an "s" unless the count is one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _evidence(evidence: dict[str, Any], limit: int = 240) -> str:
    text = "; ".join(f"{key}: {_value(value)}" for key, value in evidence.items())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _arrows(text: str) -> str:
    """Trace labels such as ``concert<-SeatReservedEvent`` with real arrows."""
    return text.replace("<-", "←").replace("->", "→")


def _verdict_cell(verdict: InvariantVerdict) -> str:
    return "✔\u00a0holds" if verdict.holds else "✘\u00a0violated"


# --- scenario, design and faults -------------------------------------------------------------------

_FLOW = {
    "sync": "Reservation calls Point to use the points, then confirms (seed 3.1)",
    "choreography": "Point's PointUsedEvent confirms the reservation (seed 4.2.1)",
}
_PUBLISH = {
    "outbox": "events are written in the same transaction as the change and relayed (seed 6.2)",
    "dual_write": "commit, then publish straight to the broker: an event can be lost (seed 6.2)",
}
_SWITCHES: tuple[tuple[str, str, str], ...] = (  # (field, label, what it does)
    ("consumer_dedup", "consumer de-duplication",
     "consumers record processed event ids and skip redeliveries (seed 4.2.3)"),
    ("compensation", "compensation",
     "ReservationFailedEvent refunds the points of a failed payment (seed 4.2.2)"),
    ("idempotency_keys", "idempotency keys",
     "a point use retried after a lost reply is applied once (seed 4.2.3)"),
    ("cancel_tombstones", "refund tombstones",
     "a refund that overtakes its deduction blocks the late deduction (seed 4.1)"),
    ("hold_expiry", "hold expiry",
     "a sweeper expires unpaid holds and frees their seats (seed 4.1)"),
    ("dead_letter", "dead-letter topic",
     "an event that keeps failing is parked with its reason, not dropped (seed 4.2.3)"),
)


def _design_rows(design: Design) -> list[list[str]]:
    default = Design()

    def changed(field: str) -> str:
        return " (changed from the default)" if getattr(design, field) != getattr(default, field) else ""

    rows = [
        ["payment flow", design.payment_flow + changed("payment_flow"), _FLOW.get(design.payment_flow, "")],
        ["publishing", design.publish + changed("publish"), _PUBLISH.get(design.publish, "")],
    ]
    rows += [
        [label, _on_off(getattr(design, field)) + changed(field), meaning]
        for field, label, meaning in _SWITCHES
    ]
    rows += [
        ["consumer retries", str(design.retries) + changed("retries"),
         "times a failing event is retried, with backoff, before it is parked (seed 4.2.3)"],
        ["partitioning", f"by {design.partitioning}" + changed("partitioning"),
         "by key, one seat's events stay in order; at random they may overtake each other (seed 4.2.3)"],
    ]
    return rows


def scenario_table(scenario: Scenario, seed: int) -> Table:
    """The scenario's settings and design switches, each with what it means."""
    workload, concerts, rules = scenario.workload, scenario.concerts, scenario.rules
    rows = [
        ["scenario", scenario.name, ""],
        ["description", scenario.description or "-", ""],
        ["seed", str(seed), "the run is a pure function of scenario and seed"],
        *_design_rows(scenario.design),
        ["users", f"{workload.users} ({workload.arrival.replace('_', ' ')})",
         f"arriving within {workload.flash_window:g} s" if workload.arrival == "flash_crowd"
         else f"{workload.rate_per_second:g} per second for {workload.duration:g} s"],
        ["concert dates × seats", f"{concerts.dates} × {concerts.seats_per_date}",
         f"price {concerts.price:,} points"],
        ["hold TTL", f"{rules.hold_ttl:g} s", "an unpaid hold expires after this"],
        ["queue capacity", str(rules.queue_capacity), "active waiting-queue tokens at once"],
        ["faults", str(len(scenario.faults)), "listed in the fault schedule" if scenario.faults else "none"],
    ]
    return Table(["setting", "value", "what it means"], rows)


def _fault_words(fault: FaultSpec) -> str:
    target = fault.target
    if fault.kind == "crash":
        if target.startswith("relay:"):
            return f"{target.removeprefix('relay:')}'s outbox relay stops; new events wait in the outbox"
        if target.startswith("consumer:"):
            return f"{target.removeprefix('consumer:')}'s consumers stop; events wait in the broker"
        return f"{target} is down: work in flight is lost, committed data is kept"
    if fault.kind == "partition":
        if "->" in target:
            source, destination = target.split("->")
            return f"nothing from {source} reaches {destination}"
        a, b = target.split("|")
        return f"{a} and {b} cannot reach each other"
    if fault.kind in MESSAGE_FAULTS:
        verb = {"drop": "are lost", "duplicate": "arrive twice", "delay": "arrive late"}.get(fault.kind)
        return f"matching {target} messages {verb or 'may be overtaken'}"
    return {
        "slow": f"{target} works slower",
        "commit_failure": f"{target}'s database commits fail",
        "clock_skew": f"{target}'s clock is off",
    }.get(fault.kind, fault.kind)


def _fault_rows(faults: Sequence[tuple[int, FaultSpec]]) -> list[list[str]]:
    rows = []
    for index, fault in faults:
        if fault.duration:
            duration = f"{fault.duration:g} s"
        else:
            duration = "until restarted" if fault.kind == "crash" else "until heal"
        match = fault.match.model_dump(exclude_defaults=True) if fault.match else {}
        if fault.kind in MESSAGE_FAULTS:
            struck = ", ".join(f"{k}={_value(v)}" for k, v in match.items()) or "every message"
        else:
            struck = "-"
        params = ", ".join(f"{k}={v:g}" for k, v in fault.params.items()) or "-"
        rows.append([
            str(index), f"{fault.at:g} s", fault.kind, fault.target, duration, struck, params,
            _fault_words(fault),
        ])
    return rows


def _fault_table(faults: Sequence[tuple[int, FaultSpec]]) -> Table:
    header = ["#", "at", "kind", "target", "lasts", "messages struck", "params", "in words"]
    return Table(header, _fault_rows(faults))


def fault_blocks(scenario: Scenario, none: str) -> list[Block]:
    """The scenario's fault schedule as a table, or the paragraph ``none`` when it has no fault."""
    if not scenario.faults:
        return [Paragraph(none)]
    return [_fault_table(list(enumerate(scenario.faults)))]


# --- invariants and violations ---------------------------------------------------------------------


def invariant_table(verdicts: Sequence[InvariantVerdict]) -> Table:
    """One row per verdict: the invariant, its kind and promise, whether it held, its violations."""
    rows = [
        [v.invariant.id, v.invariant.kind, v.invariant.promise, _verdict_cell(v), str(len(v.violations))]
        for v in verdicts
    ]
    return Table(["invariant", "kind", "what it promises", "verdict", "violations"], rows)


def _violation_rows(outcome: RunOutcome, violations: Sequence[Violation]) -> list[list[str]]:
    records = outcome.result.trace.records
    rows = []
    for number, violation in enumerate(violations, 1):
        trace = [
            f"#{seq} {describe(records[seq])}" for seq in violation.records[:3] if 0 <= seq < len(records)
        ]
        if len(violation.records) > 3:
            trace.append(f"and {len(violation.records) - 3} more")
        rows.append([str(number), seconds(violation.at), violation.message, _evidence(violation.evidence),
                     "; ".join(trace) or "-"])
    return rows


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


def saga_blocks(outcome: RunOutcome, reservation_id: str, flow: RenderedFigure | None) -> list[Block]:
    """One reservation's saga: a summary, the faults active meanwhile, its sequence diagram (with
    ``flow``, the message-flow figure that draws it, if given) and its steps in order."""
    saga = saga_of(outcome.result, reservation_id)
    records = relevant_records(saga)
    if not records:
        return [Paragraph(f"The trace holds no record of {reservation_id}'s saga.")]
    start, end = records[0].at, records[-1].at
    blocks: list[Block] = [
        Heading(4, f"The saga of {reservation_id}"),
        Paragraph(_saga_summary(outcome, reservation_id, len(records), start, end)),
    ]
    faults = _faults_during(outcome, start, end)
    if faults:
        blocks += [Paragraph("Faults active while this saga ran:"), _fault_table(faults)]
    else:
        blocks.append(Paragraph("No fault was active while this saga ran."))
    blocks += [
        Paragraph("As a sequence diagram: calls are solid arrows, replies dashed, events open arrows, "
                  "lost messages crosses; notes mark faults, timeouts and skipped duplicates."),
        Code(sequence_diagram(saga), "mermaid"),
    ]
    if flow is not None:
        blocks.append(Image(f"{flow.name}.png", flow.title, flow.caption, flow.png))
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


def violation_blocks(
    outcome: RunOutcome, flow: RenderedFigure | None = None, flow_saga: str | None = None
) -> list[Block]:
    """For each violated invariant: its promise, its first violations with evidence, and the saga
    of the first violation that belongs to one (each saga drawn once)."""
    blocks: list[Block] = []
    drawn: set[str] = set()
    for verdict in outcome.verdicts:
        if verdict.holds:
            continue
        invariant = verdict.invariant
        count = len(verdict.violations)
        blocks += [
            Heading(3, f"✘ {invariant.id}: {plural(count, 'violation')}"),
            Paragraph(f"What it promises: {invariant.promise} "
                      f"This is {KIND_MEANING.get(invariant.kind, invariant.kind)}."),
            Table(["#", "at", "what went wrong", "evidence", "trace records"],
                  _violation_rows(outcome, verdict.violations[:MAX_VIOLATIONS_SHOWN])),
        ]
        if count > MAX_VIOLATIONS_SHOWN:
            hidden = count - MAX_VIOLATIONS_SHOWN
            blocks.append(Paragraph(f"... and {hidden} more, all listed in summary.json."))
        saga = next((v.saga for v in verdict.violations if v.saga), None)
        if saga is None:
            continue
        if saga in drawn:
            blocks.append(Paragraph(f"Its first violation is in the saga of {saga}, drawn above."))
            continue
        drawn.add(saga)
        blocks += saga_blocks(outcome, saga, flow if saga == flow_saga else None)
    return blocks


def featured_saga(outcome: RunOutcome) -> str | None:
    """The saga a run report draws (the same one its message-flow figure shows)."""
    return run_figures.default_saga(outcome)


# --- figures ---------------------------------------------------------------------------------------


def figure_blocks(placed_so_far: list[Block], figures: Sequence[RenderedFigure]) -> list[Block]:
    """A "Figures" section of every figure not already shown beside the saga it draws."""
    placed = {b.file_name for b in placed_so_far if isinstance(b, Image)}
    shown = [f for f in figures if f"{f.name}.png" not in placed]
    blocks: list[Block] = [Heading(2, "Figures")] if shown else []
    for figure in shown:
        image = Image(f"{figure.name}.png", figure.title, figure.caption, figure.png)
        blocks += [Heading(3, figure.title), image]
    return blocks

