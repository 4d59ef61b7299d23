"""The consistency reports an architect reads: ``report.md`` and ``report.html``, for a run, an
exploration and an ablation.

Each report's content is written once, here, as a list of blocks (``concertsim.reports.document``:
headings, paragraphs, verdicts, tables, code, images) and rendered twice: to Markdown
(``markdown.py``, for a code host, where the mermaid diagrams draw) and to a self-contained HTML
page (``html.py``). Files are written through :class:`OutputDir`, each one atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from concertsim.checks.base import Verdict as InvariantVerdict
from concertsim.checks.base import Violation
from concertsim.checks.probes import PROBES
from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.reports import figures as run_figures
from concertsim.reports.figures import RenderedFigure
from concertsim.reports.document import Block, Code, Heading, Image, Paragraph, Table, Verdict
from concertsim.reports.html import to_html
from concertsim.reports.markdown import to_markdown
from concertsim.reports.mermaid import relevant_records, sequence_diagram
from concertsim.reports.outputs import OutputDir
from concertsim.reports.saga import describe, saga_of
from concertsim.scenarios.schema import MESSAGE_FAULTS, Design, FaultSpec, Scenario

if TYPE_CHECKING:
    from concertsim.ablation import AblationRow
    from concertsim.api import RunOutcome
    from concertsim.exploration import Exploration

__all__ = [
    "write_run_report",
    "write_exploration_report",
    "write_ablation_report",
    "run_blocks",
    "exploration_blocks",
    "ablation_blocks",
]

MAX_VIOLATIONS_SHOWN = 5
MAX_SAGA_STEPS = 60
MESSAGE_FLOW = "message-flow"

KIND_MEANING = {
    "safety": "a safety invariant: it must hold at every moment of the run, faults or not",
    "convergence": "a convergence invariant: it must hold once every fault is healed and the system "
                   "has settled",
}

PROBE_MEANING = {
    "reply-lost-after-deduction": "Point deducted points but its reply to Reservation was lost: "
    "the caller cannot tell whether the payment happened (the ambiguous case).",
    "redelivery-skipped-by-inbox": "An event was delivered again and the consumer's processed-event "
    "table recognised and skipped it.",
    "refund-overtook-deduction": "A reservation's refund was handled before a deduction for it arrived, "
    "so the late deduction had to be refused.",
    "payment-at-hold-expiry": "A payment met a hold that expired meanwhile, and the reservation failed "
    "after the points were taken.",
    "relay-republished": "An outbox event was published twice (a relay crashed between publishing and "
    "marking it, or an acknowledgement was lost).",
    "parked-in-dead-letter-topic": "An event kept failing and was parked in a dead-letter topic.",
}


# --- writing ---------------------------------------------------------------------------------------


def _write(output: OutputDir, blocks: list[Block], title: str) -> None:
    for block in blocks:
        if isinstance(block, Image):
            output.write_bytes_with(block.file_name, lambda out, png=block.png: out.write(png))
    output.write_text("report.md", to_markdown(blocks))
    output.write_text("report.html", to_html(blocks, title))


# --- small formatting helpers ----------------------------------------------------------------------


def _seconds(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:,.2f}\u00a0s"  # a no-break space keeps number and unit together in a narrow column


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _on_off(value: bool) -> str:
    return "on" if value else "off"


def _plural(count: int, word: str) -> str:
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


def _scenario_table(scenario: Scenario, seed: int) -> Table:
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


def _fault_blocks(scenario: Scenario, none: str) -> list[Block]:
    if not scenario.faults:
        return [Paragraph(none)]
    return [_fault_table(list(enumerate(scenario.faults)))]


# --- invariants and violations ---------------------------------------------------------------------


def _invariant_table(verdicts: Sequence[InvariantVerdict]) -> Table:
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
        rows.append([str(number), _seconds(violation.at), violation.message, _evidence(violation.evidence),
                     "; ".join(trace) or "-"])
    return rows


def _saga_summary(outcome: RunOutcome, reservation_id: str, steps: int, start: float, end: float) -> str:
    booked = outcome.result.table("reservation", reservations.RESERVATIONS).get(reservation_id)
    span = f"{_plural(steps, 'step')} from {_seconds(start)} to {_seconds(end)}"
    if booked is None:
        return f"{reservation_id}: {span}."
    ending = f"it ends {booked.status}"
    if booked.failure_reason:
        ending += f" ({booked.failure_reason})"
    return (
        f"{reservation_id}: user {booked.user_id} held seat {booked.seat_no} of date {booked.date_id} at "
        f"{_seconds(booked.held_at)}, the hold expiring at {_seconds(booked.hold_expires_at)}; {ending}. "
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


def _saga_blocks(outcome: RunOutcome, reservation_id: str, flow: RenderedFigure | None) -> list[Block]:
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


def _violation_blocks(
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
            Heading(3, f"✘ {invariant.id}: {_plural(count, 'violation')}"),
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
        blocks += _saga_blocks(outcome, saga, flow if saga == flow_saga else None)
    return blocks


def _first_violation_saga(outcome: RunOutcome) -> str | None:
    return next((v.saga for verdict in outcome.verdicts for v in verdict.violations if v.saga), None)


def _featured_saga(outcome: RunOutcome) -> str | None:
    """The saga a run report draws (the same one its message-flow figure shows)."""
    return run_figures.default_saga(outcome)


# --- metrics ---------------------------------------------------------------------------------------


def _convergence_text(time: dict[str, Any], deadline: float) -> str:
    convergence = time["time_to_convergence"]
    if convergence is None:
        return f"never became quiescent within the settle deadline of {deadline:g} s after the heal"
    return f"quiescent {convergence:,.2f} s after the heal (at {_seconds(time['settled_at'])})"


def _metric_blocks(metrics: dict[str, Any], deadline: float) -> list[Block]:
    r, p, e, c, t, f = (metrics[k] for k in ("reservations", "points", "events", "client", "time", "faults"))
    refunded = "none refunded"
    if p["refunds"]:
        refunded = f"{p['refunded']:,} refunded in {_plural(p['refunds'], 'refund')}"
    rows = [
        ["users", str(metrics["users"])],
        ["reservations", f"{r['held']} held: {r['confirmed']} confirmed, {r['expired']} expired, "
                         f"{r['failed']} failed, {r['still_held']} still open"],
        ["points",
         f"{p['charged']:,} charged; {p['used']:,} used in {_plural(p['uses'], 'deduction')}; {refunded}"],
        ["events", f"{e['raised']} raised, {e['published']} published, {e['delivered']} delivered "
                   f"({e['redelivered']} redelivered), {e['handled']} handled, {e['duplicates_skipped']} "
                   f"duplicates skipped, {e['handling_failures']} handling failures"],
        ["events lost or parked", f"{e['dropped']} dropped, {e['dead_lettered']} dead-lettered "
                                  f"({e['still_dead_lettered']} still parked at the end)"],
        ["client operations",
         f"{c['operations']}: {c['ok']} ok, {c['fail']} failed, {c['unknown']} unknown outcome"],
        ["faults",
         f"{_plural(f['windows'], 'fault window')}, {_plural(f['message_strikes'], 'message')} struck"],
        ["phases", f"workload until {_seconds(t['workload_end'])}, heal at {_seconds(t['heal_at'])}, "
                   f"run ended at {_seconds(t['simulated_seconds'])} of simulated time"],
        ["time to convergence", _convergence_text(t, deadline)],
    ]
    latency = [
        [route, str(v["count"]), _ms(v["p50_ms"]), _ms(v["p95_ms"]), _ms(v["p99_ms"]), _ms(v["max_ms"])]
        for route, v in metrics["latency"].items()
    ]
    blocks: list[Block] = [Table(["measure", "value"], rows), Heading(3, "Latency per endpoint")]
    if latency:
        blocks += [
            Paragraph("As clients saw it, in milliseconds of simulated time, over completed requests."),
            Table(["endpoint", "requests", "p50", "p95", "p99", "max"], latency),
        ]
    else:
        blocks.append(Paragraph("No client request completed."))
    return blocks


# --- the run report --------------------------------------------------------------------------------


def _figure_blocks(placed_so_far: list[Block], figures: Sequence[RenderedFigure]) -> list[Block]:
    """A "Figures" section of every figure not already shown beside the saga it draws."""
    placed = {b.file_name for b in placed_so_far if isinstance(b, Image)}
    shown = [f for f in figures if f"{f.name}.png" not in placed]
    blocks: list[Block] = [Heading(2, "Figures")] if shown else []
    for figure in shown:
        image = Image(f"{figure.name}.png", figure.title, figure.caption, figure.png)
        blocks += [Heading(3, figure.title), image]
    return blocks


def _headline(outcome: RunOutcome) -> Verdict:
    total = len(outcome.verdicts)
    if outcome.holds:
        return Verdict(True, f"The design held: all {total} invariants checked hold.")
    broken = ", ".join(
        f"{v.invariant.id} ({_plural(len(v.violations), 'violation')})"
        for v in outcome.verdicts if not v.holds
    )
    return Verdict(False, f"The design broke {len(outcome.violated)} of {total} invariants: {broken}.")


def run_blocks(
    outcome: RunOutcome, figures: Sequence[RenderedFigure], *, flow_saga: str | None = None
) -> list[Block]:
    """The run report's content. ``flow_saga`` names the saga the message-flow figure draws, if
    known: the figure is then shown beside that saga's sequence diagram."""
    result = outcome.result
    scenario = result.scenario
    flow = next((f for f in figures if f.name == MESSAGE_FLOW), None) if flow_saga else None
    blocks: list[Block] = [
        Heading(1, f"Consistency report: {scenario.name}"),
        _headline(outcome),
        Paragraph(f"Seed {result.seed}; trace SHA-256 {result.trace_sha256}. Running the same scenario with "
                  "the same seed reproduces this trace exactly."),
        Heading(2, "Scenario and design"),
        _scenario_table(scenario, result.seed),
        Heading(2, "Fault schedule"),
        *_fault_blocks(scenario, "No faults: every service stayed up and every message arrived."),
        Heading(2, "Invariants"),
        Paragraph("Each invariant is a promise of the design, checked on the run's records. A safety "
                  "invariant must hold at every moment, faults or not; a convergence invariant must hold "
                  "once every fault is healed and the system has settled (outboxes empty, no consumer lag, "
                  "no saga in flight)."),
        _invariant_table(outcome.verdicts),
    ]
    if not outcome.holds:
        blocks += [Heading(2, "What broke"), *_violation_blocks(outcome, flow, flow_saga)]
    else:
        featured = _featured_saga(outcome)
        if featured is not None:
            blocks += [
                Heading(2, "One saga, end to end"),
                Paragraph("Every promise held; this is what one reservation's saga looked like."),
                *_saga_blocks(outcome, featured, flow if featured == flow_saga else None),
            ]
    blocks += [Heading(2, "Metrics"), *_metric_blocks(outcome.metrics, scenario.settle.deadline)]
    blocks += _figure_blocks(blocks, figures)
    blocks += [
        Heading(2, "Files"),
        Paragraph("Beside this report: summary.json (every verdict, violation and metric), trace.jsonl "
                  "(every record of the run, one JSON object per line) and each figure as a PNG file."),
    ]
    return blocks


def write_run_report(
    output: OutputDir, outcome: RunOutcome, *, figures: Sequence[RenderedFigure] | None = None
) -> None:
    """Write ``report.md``, ``report.html`` and each figure as ``<name>.png`` into ``output``.

    Without ``figures``, every run figure is rendered, its message flow drawing the saga the report
    explains (the first violation's, else a confirmed reservation's)."""
    flow_saga = None
    if figures is None:
        flow_saga = _featured_saga(outcome)
        figures = run_figures.render_run_figures(outcome, saga=flow_saga)
    blocks = run_blocks(outcome, figures, flow_saga=flow_saga)
    _write(output, blocks, f"concertsim: {outcome.result.scenario.name}")


# --- the exploration report ------------------------------------------------------------------------


def _probe_blocks(exploration: Exploration) -> list[Block]:
    rows = []
    for name, probe in PROBES.items():
        meaning = PROBE_MEANING.get(name) or (probe.__doc__ or "").strip().split("\n")[0]
        count = exploration.probes.get(name, 0)
        rows.append([name, meaning, str(count) if count else "✘ never"])
    blocks: list[Block] = [
        Heading(2, "Coverage: did the search reach the dangerous states?"),
        Paragraph(f"How often the {_plural(exploration.generated, 'generated example')} reached each "
                  "interleaving that the design's safeguards exist for (counted over the search, not the "
                  "shrinking)."),
        Table(["probe", "the situation", "times reached"], rows),
    ]
    unreached = exploration.unreached_probes()
    if unreached and not exploration.found:
        blocks.append(Verdict(False, f"Never reached: {', '.join(unreached)}. A green result that never "
                                     "reached the dangerous state proves little: run more examples, or aim "
                                     "the fault kinds at it."))
    elif unreached:
        blocks.append(Paragraph(f"Never reached before the counterexample: {', '.join(unreached)}. "
                                "Promises that depend on those situations are not tested by this search."))
    else:
        blocks.append(Paragraph("Every probe was reached at least once."))
    return blocks


def _search_table(exploration: Exploration) -> Table:
    rows = [
        ["base scenario", exploration.base.name],
        ["examples requested", str(exploration.examples_requested)],
        ["examples generated", str(exploration.generated)],
        ["simulations run", f"{exploration.runs} (search and shrinking)"],
        ["examples to the first failure", str(exploration.examples_to_failure or "-")],
    ]
    return Table(["search", "value"], rows)


def exploration_blocks(
    exploration: Exploration, figures: Sequence[RenderedFigure] = (), *, flow_saga: str | None = None
) -> list[Block]:
    """The exploration report's content; ``figures`` are the counterexample run's, and
    ``flow_saga`` the saga its message-flow figure draws, if known."""
    base = exploration.base
    outcome = exploration.outcome
    example = exploration.counterexample
    blocks: list[Block] = [Heading(1, f"Exploration of {base.name}")]
    if example is None or outcome is None:
        blocks += [
            Verdict(True, "No counterexample: every invariant held in all "
                          f"{_plural(exploration.generated, 'generated example')}."),
            _search_table(exploration),
        ]
    else:
        first = next(v for verdict in outcome.verdicts for v in verdict.violations)
        flow = next((f for f in figures if f.name == MESSAGE_FLOW), None) if flow_saga else None
        blocks += [
            Verdict(False, f"Counterexample found: {', '.join(outcome.violated)} broken."),
            _search_table(exploration),
            Heading(2, "Invariants broken"),
            _invariant_table([v for v in outcome.verdicts if not v.holds]),
            Heading(2, "The minimal fault schedule"),
            Paragraph(f"Shrunk to {_plural(len(example.faults), 'fault')} and "
                      f"{_plural(example.workload.users, 'user')} (seed {example.seed}), the smallest "
                      "schedule found that still breaks the promise. It replays exactly: the counterexample "
                      f"file (counterexample.yaml) gives trace {outcome.result.trace_sha256}."),
            *_fault_blocks(example, "No fault at all: the design breaks the promise on its own."),
            Heading(2, "Why it breaks"),
            Paragraph(f"The first violation ({first.invariant}): {first.message.rstrip('.')}. Replay it "
                      "with `concertsim replay counterexample.yaml`; each broken invariant follows, with the "
                      "saga that shows how."),
            *_violation_blocks(outcome, flow, flow_saga),
        ]
    blocks += _probe_blocks(exploration)
    if example is None:
        blocks += [Heading(2, "Base scenario and design"), _scenario_table(base, base.seed)]
    else:
        blocks += [
            Heading(2, "The counterexample's scenario and design"),
            _scenario_table(example, example.seed),
        ]
        blocks += _figure_blocks(blocks, figures)
    return blocks


def write_exploration_report(
    output: OutputDir, exploration: Exploration, *, figures: Sequence[RenderedFigure] | None = None
) -> None:
    """Write the report of an exploration: the minimal counterexample, why it breaks and its run's
    figures, or, for a search that found none, how much of the dangerous ground it covered.

    Without ``figures``, a counterexample's figures are rendered, its message flow drawing the
    saga of the first violation."""
    flow_saga = None
    if figures is None:
        figures = []
        if exploration.outcome is not None:
            flow_saga = _featured_saga(exploration.outcome)
            figures = run_figures.render_run_figures(exploration.outcome, saga=flow_saga)
    blocks = exploration_blocks(exploration, figures, flow_saga=flow_saga)
    _write(output, blocks, f"concertsim exploration: {exploration.base.name}")


# --- the ablation report ---------------------------------------------------------------------------


def _schedule_text(example: Scenario | None) -> str:
    if example is None:
        return "-"
    if not example.faults:
        return "no fault needed"
    parts = []
    for fault in example.faults:
        text = f"{fault.kind} {fault.target} at {fault.at:g} s"
        if fault.match is not None and fault.match.message_type:
            text += f" ({fault.match.message_type})"
        parts.append(text)
    return "; ".join(parts)


def _matrix_cell(row: AblationRow) -> str:
    """✔ when the result is what the design documents: the safeguard's absence broke what it
    protects, or, in a flow where it is documented redundant, nothing broke."""
    found = row.exploration
    if row.caught:
        protected = [i for i in row.broken if i in row.safeguard.protects]
        examples = _plural(found.examples_to_failure or 0, "example")
        faults = _plural(row.faults_in_minimal or 0, "fault")
        mark = "✘ caught although documented redundant" if row.redundant else "✔ caught"
        return f"{mark}: {', '.join(protected)} after {examples}, {faults} in the minimum"
    if row.redundant:
        return f"✔ redundant here (documented): nothing broke in {_plural(found.generated, 'example')}"
    if row.broken:
        return f"✘ not caught: broke only {', '.join(row.broken)}"
    return f"✘ not caught in {_plural(found.generated, 'example')}"


def _ablation_row(row: AblationRow) -> list[str]:
    if row.caught:
        caught = "✘ yes, although documented redundant" if row.redundant else "✔ yes"
    else:
        caught = "✔ no, redundant here" if row.redundant else "✘ no"
    return [
        row.safeguard.switch.removeprefix("design."), row.flow, ", ".join(row.broken) or "none", caught,
        str(row.exploration.examples_to_failure or "-"),
        "-" if row.faults_in_minimal is None else str(row.faults_in_minimal),
        _schedule_text(row.exploration.counterexample),
    ]


def ablation_blocks(rows: Sequence[AblationRow]) -> list[Block]:
    expected = sum(1 for row in rows if row.as_expected)
    caught = sum(1 for row in rows if row.caught)
    redundant = sum(1 for row in rows if row.redundant and not row.caught)
    flows = list(dict.fromkeys(row.flow for row in rows))
    safeguards = list(dict.fromkeys(row.safeguard for row in rows))
    cells = {(row.safeguard, row.flow): row for row in rows}
    base = rows[0].exploration.base.name if rows else "-"
    headline = (f"{expected} of {len(rows)} results are as the design documents: {caught} ablated designs "
                f"broke the promise their safeguard protects")
    headline += f", {redundant} held where the safeguard is documented redundant." if redundant else "."
    blocks: list[Block] = [
        Heading(1, "Ablation: which safeguard prevents which failure"),
        Verdict(expected == len(rows) and bool(rows), headline),
        Paragraph(f"Each cell switches one safeguard off (base scenario {base}) and searches fault schedules "
                  "for a violation of what that safeguard protects. ✔ caught: the search found the broken "
                  "promise, and its minimal counterexample shows why the safeguard exists. ✔ redundant here: "
                  "another mechanism keeps the promise in that flow, as documented, and nothing broke. "
                  "✘ not caught: the search found nothing within its examples, so either the safeguard is "
                  "not needed in that flow or the search missed it."),
        Heading(2, "The matrix: safeguard switched off × payment flow"),
        Table(["switched off", "seed", *flows],
              [[s.switch.removeprefix("design."), s.seed_section,
                *(_matrix_cell(cells[s, f]) if (s, f) in cells else "-" for f in flows)]
               for s in safeguards]),
        Heading(2, "Every row"),
        Table(["switched off", "flow", "invariants broken", "what it protects caught", "examples needed",
               "faults in minimal", "minimal schedule"],
              [_ablation_row(row) for row in rows]),
    ]
    unexpected = [row for row in rows if not row.as_expected]
    if unexpected:
        flows_of: dict[str, list[str]] = {}
        for row in unexpected:
            flows_of.setdefault(row.safeguard.switch, []).append(row.flow)
        listed = "; ".join(f"{switch} ({', '.join(flows)})" for switch, flows in flows_of.items())
        blocks.append(Verdict(False, f"Not as documented: {listed}. Where nothing was caught, run more "
                                     "examples or check the safeguard is really needed there; where a "
                                     "redundant one was caught, the documentation is wrong."))
    blocks.append(Heading(2, "Why each safeguard exists"))
    for safeguard in safeguards:
        blocks += [
            Heading(3, safeguard.switch),
            Paragraph(f"{safeguard.why} (seed {safeguard.seed_section})"),
            Table(["protects", "fault kinds searched"],
                  [[", ".join(safeguard.protects), ", ".join(safeguard.kinds)]]),
        ]
        if safeguard.redundant_in:
            blocks.append(Paragraph(f"Documented redundant in the {', '.join(safeguard.redundant_in)} flow: "
                                    f"{safeguard.redundancy}"))
        for flow in flows:
            row = cells.get((safeguard, flow))
            example = row.exploration.counterexample if row else None
            if example is None:
                continue
            blocks += [
                Paragraph(f"Minimal counterexample with the {flow} flow "
                          f"({_plural(example.workload.users, 'user')}):"),
                *_fault_blocks(example, "No fault needed: the design without it breaks on its own."),
            ]
    return blocks


def write_ablation_report(output: OutputDir, rows: Sequence[AblationRow]) -> None:
    """Write the ablation matrix (safeguard switched off × payment flow): what breaks without each
    safeguard, how quickly the search found it, its minimal counterexample, and where a safeguard
    is documented redundant."""
    _write(output, ablation_blocks(list(rows)), "concertsim ablation")
