"""The consistency reports an architect reads: ``report.md`` and ``report.html`` for a run, an
exploration and an ablation. Each report's content is built once as blocks
(``concertsim.reports.document``) and rendered to both formats."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from concertsim.checks.probes import PROBES
from concertsim.reports.document import Block, Code, Heading, Image, Paragraph, Table, Verdict, to_html, to_markdown
from concertsim.reports.figures import RenderedFigure, default_saga, render_run_figures
from concertsim.reports.mermaid import sequence_diagram
from concertsim.reports.outputs import OutputDir
from concertsim.reports.saga import describe, saga_of
from concertsim.scenarios.schema import FaultSpec, Scenario

if TYPE_CHECKING:
    from concertsim.ablation import AblationRow
    from concertsim.api import RunOutcome
    from concertsim.exploration import Exploration

__all__ = ["write_run_report", "write_exploration_report", "write_ablation_report", "run_blocks"]

MAX_VIOLATIONS_SHOWN = 5
MAX_SAGA_STEPS = 80


def _write(output: OutputDir, blocks: list[Block], title: str) -> None:
    for block in blocks:
        if isinstance(block, Image):
            output.write_bytes_with(block.file_name, lambda f, png=block.png: f.write(png))
    output.write_text("report.md", to_markdown(blocks))
    output.write_text("report.html", to_html(blocks, title))


def _evidence(evidence: dict[str, Any]) -> str:
    text = json.dumps(evidence, default=str, separators=(", ", ": "))
    return text if len(text) <= 300 else text[:297] + "..."


def _time(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}s"


def _fault_rows(faults: tuple[FaultSpec, ...]) -> list[list[str]]:
    rows = []
    for fault in faults:
        match = fault.match.model_dump(exclude_defaults=True) if fault.match else {}
        rows.append([
            f"{fault.at:g}s", fault.kind, fault.target,
            "until heal" if fault.duration == 0 and fault.kind != "crash" else f"{fault.duration:g}s",
            (", ".join(f"{k}={v}" for k, v in match.items()) or "all messages") if fault.kind in ("drop", "duplicate", "delay", "reorder") else "",
            ", ".join(f"{k}={v:g}" for k, v in fault.params.items()),
        ])
    return rows


def _fault_blocks(faults: tuple[FaultSpec, ...]) -> list[Block]:
    if not faults:
        return [Paragraph("No faults: every part of the system stayed up and every message arrived.")]
    return [Table(["at", "kind", "target", "for", "messages struck", "parameters"], _fault_rows(faults))]


def _design_table(scenario: Scenario, seed: int) -> Table:
    design = scenario.design
    rows = [
        ["scenario", scenario.name],
        ["seed", str(seed)],
        ["payment flow", f"{design.payment_flow} ({'seed 3.1: Reservation calls Point' if design.payment_flow == 'sync' else 'seed 4.2.1: PointUsedEvent confirms'})"],
        ["publishing", f"{design.publish} (seed 6.2)"],
        ["consumer de-duplication", str(design.consumer_dedup)],
        ["compensation (refund on ReservationFailedEvent)", str(design.compensation)],
        ["idempotency keys on point use", str(design.idempotency_keys)],
        ["refund tombstones", str(design.cancel_tombstones)],
        ["hold expiry sweeper", str(design.hold_expiry)],
        ["consumer retries / dead-letter topic", f"{design.retries} / {design.dead_letter}"],
        ["partitioning", design.partitioning],
        ["users", f"{scenario.workload.users} ({scenario.workload.arrival})"],
        ["concert dates × seats", f"{scenario.concerts.dates} × {scenario.concerts.seats_per_date}"],
        ["hold TTL / queue capacity", f"{scenario.rules.hold_ttl:g}s / {scenario.rules.queue_capacity}"],
        ["faults", str(len(scenario.faults))],
    ]
    return Table(["", "value"], rows)


def _saga_blocks(outcome: RunOutcome, reservation_id: str) -> list[Block]:
    saga = saga_of(outcome.result, reservation_id)
    steps = [[f"{r.at:.3f}", r.party, describe(r)] for r in saga.records]
    blocks: list[Block] = [
        Heading(4, f"The saga of {reservation_id}"),
        Paragraph("Calls are solid arrows, replies dashed, events open arrows; crosses are lost messages."),
        Code(sequence_diagram(saga), "mermaid"),
        Paragraph(f"Its {len(steps)} steps in order" + (f" (first {MAX_SAGA_STEPS} shown):" if len(steps) > MAX_SAGA_STEPS else ":")),
        Table(["time", "party", "what happened"], steps[:MAX_SAGA_STEPS]),
    ]
    return blocks


def _violation_blocks(outcome: RunOutcome) -> list[Block]:
    blocks: list[Block] = []
    drawn: set[str] = set()
    for verdict in outcome.verdicts:
        if verdict.holds:
            continue
        blocks.append(Heading(3, f"{verdict.invariant.id}: {len(verdict.violations)} violation(s)"))
        blocks.append(Paragraph(f"The promise: {verdict.invariant.promise}"))
        rows = [[v.message, _time(v.at), _evidence(v.evidence)] for v in verdict.violations[:MAX_VIOLATIONS_SHOWN]]
        blocks.append(Table(["violation", "at", "evidence"], rows))
        if len(verdict.violations) > MAX_VIOLATIONS_SHOWN:
            blocks.append(Paragraph(f"... and {len(verdict.violations) - MAX_VIOLATIONS_SHOWN} more (all in summary.json)."))
        saga = next((v.saga for v in verdict.violations if v.saga), None)
        if saga and saga not in drawn:
            drawn.add(saga)
            blocks += _saga_blocks(outcome, saga)
    return blocks


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _metric_blocks(metrics: dict[str, Any]) -> list[Block]:
    r, p, e, c, t = (metrics[k] for k in ("reservations", "points", "events", "client", "time"))
    convergence = t["time_to_convergence"]
    rows = [
        ["users", str(metrics["users"])],
        ["reservations", f"held {r['held']}, confirmed {r['confirmed']}, expired {r['expired']}, failed {r['failed']}"],
        ["points", f"charged {p['charged']:,}, used {p['used']:,} in {p['uses']} deductions, refunded {p['refunded']:,} in {p['refunds']} refunds"],
        ["events", f"raised {e['raised']}, published {e['published']}, delivered {e['delivered']}, redelivered {e['redelivered']}, duplicates skipped {e['duplicates_skipped']}, dead-lettered {e['dead_lettered']} ({e['still_dead_lettered']} still parked), dropped {e['dropped']}"],
        ["client operations", f"{c['operations']}: ok {c['ok']}, fail {c['fail']}, unknown {c['unknown']}"],
        ["time", f"simulated {t['simulated_seconds']:,.1f}s, heal at {t['heal_at']:,.1f}s, "
                 + (f"converged {convergence:.1f}s after heal" if convergence is not None else "never converged")
                 + f"; wall {t['wall_seconds']}s"],
    ]
    latency = [[route, str(v["count"]), _ms(v["p50_ms"]), _ms(v["p95_ms"]), _ms(v["p99_ms"]), _ms(v["max_ms"])]
               for route, v in metrics["latency"].items()]
    return [
        Table(["", "figures"], rows),
        Heading(3, "Latency per endpoint (client-observed, ms)"),
        Table(["endpoint", "requests", "p50", "p95", "p99", "max"], latency),
    ]


def run_blocks(outcome: RunOutcome, figures: list[RenderedFigure]) -> list[Block]:
    result = outcome.result
    scenario = result.scenario
    broken = outcome.violated
    headline = (
        Verdict(True, f"The design kept all {len(outcome.verdicts)} promises checked.")
        if outcome.holds
        else Verdict(False, f"The design broke {len(broken)} promise(s): {', '.join(broken)}.")
    )
    blocks: list[Block] = [Heading(1, f"concertsim report: {scenario.name}"), headline]
    if scenario.description:
        blocks.append(Paragraph(scenario.description))
    blocks += [
        Paragraph(f"Trace SHA-256 {result.trace_sha256}: `concertsim run` with the same scenario and seed reproduces it exactly."),
        Heading(2, "Scenario and design"), _design_table(scenario, result.seed),
        Heading(2, "Fault schedule"), *_fault_blocks(scenario.faults),
        Heading(2, "Invariants"),
        Paragraph("Safety invariants must hold at every moment; convergence invariants once faults are healed and the system has settled."),
        Table(["invariant", "kind", "promise", "verdict"],
              [[v.invariant.id, v.invariant.kind, v.invariant.promise,
                "holds" if v.holds else f"VIOLATED ({len(v.violations)})"] for v in outcome.verdicts]),
    ]
    if not outcome.holds:
        blocks += [Heading(2, "What broke"), *_violation_blocks(outcome)]
    else:
        saga = default_saga(outcome)
        if saga:
            blocks += [Heading(2, "One saga, end to end"), *_saga_blocks(outcome, saga)]
    blocks += [Heading(2, "Metrics"), *_metric_blocks(outcome.metrics)]
    blocks.append(Heading(2, "Figures"))
    for figure in figures:
        blocks += [Heading(3, figure.title), Image(f"{figure.name}.png", figure.title, figure.caption, figure.png)]
    blocks += [Heading(2, "Files"), Paragraph("summary.json holds every verdict, violation and metric; trace.jsonl every record of the run, one JSON object per line.")]
    return blocks


def write_run_report(output: OutputDir, outcome: RunOutcome, *, figures: list[RenderedFigure] | None = None) -> None:
    """Write report.md, report.html and the figures of a run into ``output``."""
    figures = render_run_figures(outcome) if figures is None else figures
    _write(output, run_blocks(outcome, figures), f"concertsim: {outcome.result.scenario.name}")


def _probe_blocks(exploration: Exploration) -> list[Block]:
    rows = [[name, str(exploration.probes.get(name, 0)) if exploration.probes.get(name) else "never"] for name in PROBES]
    blocks: list[Block] = [
        Heading(2, "Coverage: dangerous situations reached"),
        Paragraph("How often the generated examples reached each interleaving that the design's safeguards exist for."),
        Table(["probe", "times reached"], rows),
    ]
    unreached = exploration.unreached_probes()
    if unreached:
        blocks.append(Paragraph(
            f"Never reached: {', '.join(unreached)}. A green result that never reached the dangerous state "
            "proves little about it: run more examples, or aim the fault kinds at it."
        ))
    return blocks


def write_exploration_report(output: OutputDir, exploration: Exploration) -> None:
    """Write the report of an exploration: the counterexample and its explanation, or the coverage
    of a search that found none."""
    base = exploration.base
    blocks: list[Block] = [Heading(1, f"concertsim exploration of {base.name}")]
    outcome = exploration.outcome
    example = exploration.counterexample
    if example is None or outcome is None:
        blocks.append(Verdict(True, f"No counterexample in {exploration.generated} generated example(s) ({exploration.runs} runs)."))
    else:
        first = next(v for verdict in outcome.verdicts for v in verdict.violations)
        blocks += [
            Verdict(False, f"Counterexample: {', '.join(outcome.violated)} broken."),
            Paragraph(
                f"Found after {exploration.examples_to_failure} example(s) and shrunk in "
                f"{exploration.runs - (exploration.examples_to_failure or 0)} more runs to {len(example.faults)} fault(s) and "
                f"{example.workload.users} user(s). It replays exactly: `concertsim replay counterexample.yaml` "
                f"gives trace {outcome.result.trace_sha256}."
            ),
            Heading(2, "The minimal fault schedule"), *_fault_blocks(example.faults),
            Heading(2, "Why it breaks"),
            Paragraph(f"First violation ({first.invariant}): {first.message}"),
            *_violation_blocks(outcome),
        ]
    blocks += _probe_blocks(exploration)
    blocks += [Heading(2, "Base scenario and design"), _design_table(base, base.seed)]
    _write(output, blocks, f"concertsim exploration: {base.name}")


def write_ablation_report(output: OutputDir, rows: list[AblationRow]) -> None:
    """Write the matrix safeguard × payment flow: what breaks without each safeguard."""
    caught = sum(1 for row in rows if row.caught)
    blocks: list[Block] = [
        Heading(1, "concertsim ablation: which safeguard prevents which failure"),
        Verdict(caught == len(rows), f"{caught} of {len(rows)} ablated designs broke the promise their safeguard protects."),
        Paragraph("Each row switches one safeguard off and searches fault schedules for a violation of what it protects; "
                  "the minimal counterexample is the smallest schedule that shows why the safeguard exists."),
    ]
    table = []
    for row in rows:
        example = row.exploration.counterexample
        schedule = "; ".join(
            f"{f.kind} {f.target}" + (f" ({f.match.message_type})" if f.match and f.match.message_type else "")
            for f in example.faults
        ) if example else "-"
        table.append([
            row.safeguard.switch.removeprefix("design."), row.flow,
            ", ".join(row.broken) if row.caught else "nothing it protects",
            str(row.exploration.examples_to_failure or "-"),
            "-" if row.faults_in_minimal is None else str(row.faults_in_minimal),
            schedule if schedule else "(no fault needed)",
        ])
    blocks.append(Table(["switched off", "flow", "invariants broken", "examples needed", "faults in minimal", "minimal schedule"], table))
    blocks.append(Heading(2, "Why each safeguard exists"))
    seen = []
    for row in rows:
        if row.safeguard.switch in seen:
            continue
        seen.append(row.safeguard.switch)
        blocks.append(Table(["safeguard off", "protects", "seed", "why"], [[row.safeguard.switch, ", ".join(row.safeguard.protects), row.safeguard.seed_section, row.safeguard.why]]))
    _write(output, blocks, "concertsim ablation")
