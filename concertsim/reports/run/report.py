"""The run report: what a scenario run did to the design's promises, with its saga, metrics and
figures (``report.md``, ``report.html`` and each figure as a PNG)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from concertsim.reports.run import figures as run_figures
from concertsim.reports.run.cause import failure_summary
from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.document.verdict_words import not_applicable_list, verdict_counts
from concertsim.reports.run.featured import featured
from concertsim.reports.run.figures import MESSAGE_FLOW, RenderedFigure, featured_saga
from concertsim.reports.run.impact import impact_line
from concertsim.reports.document.formatting import plural, seconds
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.run.service_metrics import service_metrics_blocks
from concertsim.reports.document.fault_words import fault_blocks
from concertsim.reports.document.writing import write_report
from concertsim.reports.run.sections import figure_blocks, invariant_table, migration_blocks, scenario_blocks
from concertsim.reports.run.unsold_seats import unsold_seats
from concertsim.reports.run.violations import saga_blocks, sagas_explained, violation_blocks
from concertsim.sim.infrastructure.collection import rare_collection

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["run_blocks", "write_run_report"]


# --- metrics ---------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:,.1f}"


def _convergence_text(time: dict[str, Any], deadline: float) -> str:
    if time["settled_at"] is None:
        return f"never became quiescent within the settle deadline of {deadline:g} s after the heal"
    if time.get("faults_ended_at") is None:
        return not_applicable_text(f"no fault, so nothing to recover from (quiescent at "
                                   f"{seconds(time['settled_at'])}, when the last users and holds were done)")
    return (f"quiescent {time['time_to_convergence']:,.2f} s after the last fault ended "
            f"(at {seconds(time['faults_ended_at'])}; quiescent at {seconds(time['settled_at'])})")


def _funnel_text(funnel: dict[str, int], losses: dict[str, int] | None = None) -> str:
    text = (
        f"{funnel['arrived']} arrived → {funnel['admitted']} admitted → {funnel['held']} held a seat "
        f"→ {funnel['paid']} paid → {funnel['confirmed']} confirmed; {funnel['abandoned']} abandoned "
        f"a hold; {plural(funnel['unsold_seats'], 'seat')} unsold at the end"
    )
    lost = [f"{count} {reason.replace('-', ' ')}" for reason, count in (losses or {}).items() if count]
    return text + (f"; users lost: {', '.join(lost)}" if lost else "")


def delivery_words(events: dict[str, Any]) -> str | None:
    """Why the events delivered are not the events published, in words, from the counts the
    metrics keep (``without_subscriber``, ``never_delivered``, ``redelivered``); None when they
    are equal for no reason worth a word."""
    published, delivered, redelivered = events["published"], events["delivered"], events["redelivered"]
    unsubscribed = events.get("without_subscriber") or {}
    never = events.get("never_delivered", 0)
    alone = sum(unsubscribed.values())
    if published == delivered and not alone and not never and not redelivered:
        return None
    parts = []
    if alone:
        types = ", ".join(f"{count} {event_type}" for event_type, count in unsubscribed.items())
        parts.append(f"{alone} of the {published} published events are of a type no consumer group subscribes to, "
                     f"and are delivered to nobody ({types})")
    rest = published - alone
    if rest:
        first = delivered - redelivered
        parts.append(f"{'the other' if alone else 'the'} {rest} go to every group subscribed to their type, one "
                     f"delivery per group: {first} first {'delivery' if first == 1 else 'deliveries'}"
                     + (f", and {redelivered} {'redelivery' if redelivered == 1 else 'redeliveries'} make the "
                        f"{delivered} delivered" if redelivered else ""))
    if never:
        parts.append(f"{plural(never, 'published event')} of a subscribed type never reached a group (lost, parked "
                     "or still on the way at the end)")
    return "; ".join(parts)


def _metric_blocks(metrics: dict[str, Any], deadline: float) -> list[Block]:
    r, p, e, c, t, f = (metrics[k] for k in ("reservations", "points", "events", "client", "time", "faults"))
    refunded = "none refunded"
    if p["refunds"]:
        refunded = f"{p['refunded']:,} refunded in {plural(p['refunds'], 'refund')}"
    rows = [
        ["users", str(metrics["users"])],
        ["funnel", _funnel_text(metrics["funnel"], metrics.get("funnel_losses"))],
        ["reservations", f"{r['held']} held: {r['confirmed']} confirmed, {r['expired']} expired, "
                         f"{r['failed']} failed, {r['still_held']} still open"],
        ["points",
         f"{p['charged']:,} charged; {p['used']:,} used in {plural(p['uses'], 'deduction')}; {refunded}"],
        ["events", f"{e['raised']} raised, {e['published']} published, {e['delivered']} delivered "
                   f"({e['redelivered']} redelivered), {e['handled']} handled, {e['duplicates_skipped']} "
                   f"duplicates skipped, {e['handling_failures']} handling failures"],
        *([["published vs delivered", why]] if (why := delivery_words(e)) is not None else []),
        ["events lost or parked", f"{e['dropped']} dropped, {e['dead_lettered']} dead-lettered "
                                  f"({e['still_dead_lettered']} still parked at the end)"],
        ["client operations",
         f"{c['operations']}: {c['ok']} ok, {c['fail']} failed, {c['unknown']} unknown outcome"],
        ["faults",
         f"{plural(f['windows'], 'fault window')}, {plural(f['message_strikes'], 'message')} struck"],
        ["phases", f"workload until {seconds(t['workload_end'])}, heal at {seconds(t['heal_at'])}, "
                   f"run ended at {seconds(t['simulated_seconds'])} of simulated time"],
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


# --- the report ------------------------------------------------------------------------------------


def _breakdown(outcome: RunOutcome) -> str:
    total = len(outcome.verdicts)
    broken = ", ".join(
        f"{v.invariant.id} ({plural(len(v.violations), 'violation')})"
        for v in outcome.verdicts if v.violated
    )
    unjudged = not_applicable_list(outcome.verdicts)
    tail = f" Not applicable to this run: {unjudged}." if unjudged else ""
    return f"The design broke {len(outcome.violated)} of {total} invariants: {broken}.{tail}"


def _held_sentence(outcome: RunOutcome) -> str:
    """``The design held: all 21 invariants checked hold.``, or, when some could not be judged,
    ``The design held: 18 invariants hold, 3 not applicable (...).``"""
    if not outcome.not_applicable:
        return f"The design held: all {len(outcome.verdicts)} invariants checked hold."
    return f"The design held: {verdict_counts(outcome.verdicts)}."


def _unsold_blocks(outcome: RunOutcome) -> list[Block]:
    sentence = unsold_seats(outcome.result, outcome.metrics["funnel"]).sentence()
    return [Paragraph(f"Unsold seats: {sentence}")] if sentence else []


def run_blocks(
    outcome: RunOutcome, figures: Sequence[RenderedFigure], *, flow_saga: str | None = None,
    omitted: Sequence[tuple[str, str]] = (),
) -> list[Block]:
    """The run report's content. ``flow_saga`` names the saga the message-flow figure draws, if
    known: a failing run leads with it, a passing run shows it with its saga. ``omitted`` lists
    the figures left out for having nothing to show, with the reason."""
    result = outcome.result
    scenario = result.scenario
    by_name = {f.name: f for f in figures}
    flow = by_name.get(MESSAGE_FLOW) if flow_saga else None
    reproduce = Paragraph(f"Seed {result.seed}; trace SHA-256 {result.trace_sha256}. Running the same scenario "
                          "with the same seed reproduces this trace exactly.")
    blocks: list[Block] = [Heading(1, f"Consistency report: {scenario.name}")]
    impact = Paragraph(impact_line(outcome))
    if outcome.holds:
        blocks += [Verdict(True, _held_sentence(outcome)), impact,
                   *_unsold_blocks(outcome), reproduce]
    else:
        summary = failure_summary(outcome, flow)
        blocks += [*summary[:1], impact, *summary[1:], Paragraph(_breakdown(outcome)), reproduce]
    blocks += [
        Heading(2, "Scenario and design"),
        *scenario_blocks(scenario, result.seed),
        Heading(2, "Fault schedule"),
        *fault_blocks(scenario, "No faults: every service stayed up and every message arrived."),
        *migration_blocks(outcome.metrics.get("migration"), outcome.verdicts),
        Heading(2, "Invariants"),
        Paragraph("Each invariant is a promise of the design, checked on the run's records. A safety "
                  "invariant must hold at every moment, faults or not; a convergence invariant must hold "
                  "once every fault is healed and the system has settled (outboxes empty, no consumer lag, "
                  "no saga in flight). One the run could not judge (its mechanism is off, or nothing in the run "
                  "exercised it) is not applicable (n/a, with the reason): neither kept nor broken."),
        invariant_table(outcome.verdicts),
    ]
    if not outcome.holds:
        blocks += [Heading(2, "What broke"),
                   *violation_blocks(outcome, by_name.get, hero_saga=flow_saga if flow is not None else None)]
    else:
        chosen = featured(outcome)
        shown = flow_saga or (chosen.reservation_id if chosen is not None else None)
        if shown is not None:
            why = f" {chosen.reason}" if chosen is not None and chosen.reservation_id == shown else ""
            blocks += [
                Heading(2, "One saga, end to end"),
                Paragraph(f"Every promise held; this is what one reservation's saga looked like.{why}"),
                *saga_blocks(outcome, shown, flow if shown == flow_saga else None),
            ]
    blocks += [Heading(2, "Metrics"), *([] if outcome.holds else _unsold_blocks(outcome)),
               *_metric_blocks(outcome.metrics, scenario.settle.deadline)]
    blocks += service_metrics_blocks(outcome, with_figure=bool(figures))
    blocks += figure_blocks(blocks, figures, omitted)
    blocks += [
        Heading(2, "Files"),
        Paragraph("Beside this report: summary.json (every verdict, violation and metric), trace.jsonl "
                  "(every record of the run, one JSON object per line), each figure as a PNG file and each "
                  "saga's sequence diagram as a mermaid (.mmd) file."),
    ]
    return blocks


@rare_collection()
def write_run_report(
    output: OutputDir, outcome: RunOutcome, *, figures: Sequence[RenderedFigure] | None = None
) -> None:
    """Write ``report.md``, ``report.html``, each figure as ``<name>.png`` and each saga's
    sequence diagram as ``sequence-<reservation>.mmd`` into ``output``.

    Without ``figures``, every run figure with something to show is rendered, its hero message
    flow drawing the saga the report leads with (the first violation's, else a confirmed
    reservation's), and one message flow for each other saga the report explains."""
    flow_saga = None
    omitted: list[tuple[str, str]] = []
    if figures is None:
        flow_saga = featured_saga(outcome)
        chosen = run_figures.run_figures(outcome, saga=flow_saga, extra_sagas=tuple(sagas_explained(outcome)))
        figures, omitted = chosen.rendered, chosen.omitted
    blocks = run_blocks(outcome, figures, flow_saga=flow_saga, omitted=omitted)
    write_report(output, blocks, f"concertsim: {outcome.result.scenario.name}")
