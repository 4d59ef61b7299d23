"""The migration report: every stage of seed 9 side by side, in the seed's order.

It opens with the verdict and the failure modes each split introduces, then a stage-by-stage table
(processes, invariants, latency, messages per booking), a figure of latency and messages by stage
(when there are two stages or more), the dangerous situations each stage reached (coverage
probes), every invariant's violation rate per stage, the fault schedule, and how to read it. ``migration.json`` beside it holds the same figures.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from concertsim.migration import Migration, StageResult, bookings_per_run, processes_text
from concertsim.reports.document.blocks import Block, Heading, Image, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.plotting.base import RenderedFigure, figure_png
from concertsim.reports.document.fault_words import fault_blocks
from concertsim.reports.document.formatting import plural
from concertsim.reports.document.writing import write_report
from concertsim.reports.sweep.report import measure_parts
from concertsim.statistics import MIN_DENOMINATOR, books_almost_nothing
from concertsim.sweep.aggregate import CellSummary
from concertsim.sweep.grid import seed_range

__all__ = [
    "STAGE_MEASURES",
    "introduced_text",
    "measure_cell",
    "migration_blocks",
    "verdict_text",
    "cost_text",
    "thin_notes",
    "write_migration_report",
]

STAGE_MEASURES = {
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)",
    "pay_p95_ms": "payment p95 (ms)",
    "messages_per_booking": "messages per booking",
    "confirmed_per_minute": "bookings per minute",
}
"""The measures the stage table shows, by a short name."""


def measure_cell(stage: StageResult, measure: str, fault_free: bool = False) -> str:
    summary = stage.fault_free if fault_free else stage.summary
    estimate, spread = measure_parts(summary.measures.get(measure))
    text = f"{estimate} {spread}".strip()
    if measure == "messages_per_booking" and _noise(summary):
        text += " (few bookings: noise)"
    return text


def introduced_text(stage: StageResult) -> str:
    """What first breaks at this stage ("-" for nothing)."""
    return ", ".join(stage.introduced) or "-"


def not_applicable_by_stage(migration: Migration) -> tuple[list[str], dict[str, list[str]]]:
    """The invariants no run of any stage could judge, and per stage the further ones no run of
    that stage could (stages with none left out)."""
    by_stage = {stage.stage: [rate.invariant for rate in stage.summary.not_applicable] for stage in migration.stages}
    everywhere = [name for name in next(iter(by_stage.values()), []) if all(name in names for names in by_stage.values())]
    only_at = {stage: [name for name in names if name not in everywhere] for stage, names in by_stage.items()}
    return everywhere, {stage: names for stage, names in only_at.items() if names}


def _mean(summary: CellSummary, name: str) -> float | None:
    interval = summary.measures.get(name)
    return None if interval is None else interval.estimate


def _signed(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    text = f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+,.1f}"
    return f"{text}{unit}"


def _delta(summary: CellSummary, other: CellSummary, name: str) -> float | None:
    here, there = _mean(summary, name), _mean(other, name)
    return None if here is None or there is None else here - there


def _noise(summary: CellSummary) -> str:
    """`` (over 0.7 bookings per run: noise)`` when messages per booking rests on too few bookings."""
    booked = bookings_per_run(summary)
    return "" if booked is None or booked >= MIN_DENOMINATOR else f" (over {booked:.2g} bookings per run: noise)"


def cost_text(migration: Migration) -> str | None:
    """What each split costs without faults, against the first stage (its p95 latency and
    messages per booking), and, for a scenario with faults, what the faults add at each stage
    over its own fault-free runs: so that a lost reply's retries are not read as a split's cost.
    None for a single stage without faults."""
    stages = migration.stages
    seeds = plural(len(migration.seeds), "seed")
    parts = []
    if len(stages) > 1:
        first = stages[0]
        costs = [f"{stage.stage} p95 {_signed(_delta(stage.fault_free, first.fault_free, 'latency_p95_ms'), ' ms')}, "
                 f"messages per booking {_signed(_delta(stage.fault_free, first.fault_free, 'messages_per_booking'))}"
                 f"{_noise(stage.fault_free)}"
                 for stage in stages[1:]]
        parts.append(f"Without faults, against {first.stage} (differences of means over {seeds}): "
                     + "; ".join(costs) + ".")
    if migration.faulted:
        added = [f"{stage.stage} p95 {_signed(_delta(stage.summary, stage.fault_free, 'latency_p95_ms'), ' ms')}, "
                 f"messages per booking {_signed(_delta(stage.summary, stage.fault_free, 'messages_per_booking'))}"
                 f"{_noise(stage.summary)}"
                 for stage in stages]
        parts.append("The faults add, over each stage's fault-free runs: " + "; ".join(added) + ".")
    return " ".join(parts) or None


def thin_notes(migration: Migration) -> list[str]:
    """A line per stage (with or without faults) that books almost nothing: its measures describe
    a sale that did not happen."""
    notes = []
    for stage in migration.stages:
        sides = [("with the faults" if migration.faulted else "", stage.summary)]
        if stage.baseline is not None:
            sides.append(("without faults", stage.baseline))
        for label, summary in sides:
            booked = bookings_per_run(summary)
            users = _mean(summary, "funnel_arrived")
            if booked is not None and books_almost_nothing(booked, users):
                where = f"{stage.stage} {label}".strip()
                of = f" of {users:.3g} users arriving" if users is not None else ""
                notes.append(f"{where} books almost nothing: {booked:.2g} bookings per run{of}; its latency "
                             "and messages per booking describe failed payments, not the design.")
    return notes


def verdict_text(migration: Migration) -> str:
    runs = len(migration.seeds)
    if migration.holds:
        everywhere, only_at = not_applicable_by_stage(migration)
        if not everywhere and not only_at:
            return f"Every invariant held at every stage, in each of {plural(runs, 'seed')}."
        unjudged = f"; {len(everywhere)} not applicable at every stage" if everywhere else ""
        return f"Every invariant judged held at every stage, in each of {plural(runs, 'seed')}{unjudged}."
    parts = [f"{stage.stage} first breaks {', '.join(stage.introduced)}{_under(stage)}"
             for stage in migration.stages if stage.introduced]
    return "; ".join(parts) + f" (over {plural(runs, 'seed')})."


def _under(stage: StageResult) -> str:
    """Whether what a stage first breaks needs the faults: ``, under the faults only`` when its
    fault-free runs keep every one of them, ``, <names> also without faults`` when they break some."""
    if stage.baseline is None:
        return ""
    without = [name for name in stage.introduced if any(rate.invariant == name for rate in stage.baseline.broken)]
    if not without:
        return ", under the faults only"
    return f", {', '.join(without)} also without faults"


def _stage_table(migration: Migration, fault_free: bool = False) -> Table:
    header = ["stage", "processes", "invariants", *STAGE_MEASURES.values(),
              *([] if fault_free else ["first broken here"])]
    rows = []
    for stage in migration.stages:
        summary = stage.fault_free if fault_free else stage.summary
        runs = len(summary.runs)
        invariants = (f"all held in {runs} of {runs}" if summary.holds else
                      "; ".join(f"{rate.invariant} {rate.violated} of {rate.runs}" for rate in summary.broken))
        if summary.not_applicable:
            invariants += f"; n/a: {', '.join(rate.invariant for rate in summary.not_applicable)}"
        rows.append([stage.stage, processes_text(stage.stage, migration.plan.base.workload.users), invariants,
                     *(measure_cell(stage, m, fault_free) for m in STAGE_MEASURES),
                     *([] if fault_free else [introduced_text(stage)])])
    return Table(header, rows)


def _probe_table(migration: Migration) -> Table | None:
    """probe × stage: how many runs reached it (None when no run reached any)."""
    names = list(dict.fromkeys(name for stage in migration.stages for name in stage.reached))
    if not names:
        return None
    rows = []
    for name in names:
        cells = []
        for stage in migration.stages:
            count = stage.reached.get(name, 0)
            first = " (first)" if name in stage.first_reached and stage is not migration.stages[0] else ""
            cells.append(f"{count} of {len(stage.summary.runs)}{first}" if count else "-")
        rows.append([name, *cells])
    return Table(["situation", *(stage.stage for stage in migration.stages)], rows)


def _invariant_table(migration: Migration) -> Table:
    names = list(dict.fromkeys(name for stage in migration.stages for name in stage.summary.rates))
    rows = []
    for name in names:
        cells = []
        for stage in migration.stages:
            rate = stage.summary.rates.get(name)
            if rate is None:
                cells.append("not checked")
                continue
            if rate.rate is None:
                cells.append(not_applicable_text(rate.reason))
                continue
            interval = rate.rate
            mark = "✘" if rate.violated else "✔"
            unjudged = f" (n/a in {len(rate.not_applicable)})" if rate.not_applicable else ""
            cells.append(f"{mark} {rate.violated} of {rate.runs} · {interval.estimate * 100:.0f}% "
                         f"[{interval.low * 100:.0f}, {interval.high * 100:.0f}]{unjudged}")
        rows.append([name, *cells])
    return Table(["invariant", *(stage.stage for stage in migration.stages)], rows)


def stage_figure(migration: Migration) -> RenderedFigure | None:
    """Latency p95 and messages per booking by stage, each mean with its 95% interval; None with
    fewer than two stages or no value to draw."""
    stages = migration.stages
    if len(stages) < 2:
        return None
    panels = [("latency_p95_ms", "latency p95 (ms)"), ("messages_per_booking", "messages per booking")]
    if all(stage.summary.measures.get(name) is None for stage in stages for name, _ in panels):
        return None
    figure = Figure(figsize=(9.0, 3.6), layout="constrained")
    positions = list(range(len(stages)))
    series = [("without faults", [stage.fault_free for stage in stages], "#4c72b0")]
    if migration.faulted:
        series.append(("with the scenario's faults", [stage.summary for stage in stages], "#dd8452"))
    width = 0.8 / len(series)
    for index, (name, label) in enumerate(panels):
        axes = figure.add_subplot(1, 2, index + 1)
        for offset, (legend, summaries, colour) in enumerate(series):
            intervals = [summary.measures.get(name) for summary in summaries]
            heights = [i.estimate if i is not None else 0.0 for i in intervals]
            errors = [[i.estimate - i.low if i is not None else 0.0 for i in intervals],
                      [i.high - i.estimate if i is not None else 0.0 for i in intervals]]
            shift = (offset - (len(series) - 1) / 2) * width
            bars = axes.bar([p + shift for p in positions], heights, width=width, yerr=errors, color=colour,
                            capsize=3, label=legend)
            if name == "messages_per_booking":
                for bar, summary in zip(bars, summaries, strict=True):
                    if _noise(summary):
                        bar.set_hatch("//")
                        bar.set_alpha(0.45)
        axes.set_xticks(positions, [stage.stage.replace("_", "\n").replace("@", "\n@") for stage in stages], fontsize=8)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
        if len(series) > 1 and index == 0:
            axes.legend(fontsize=8, frameon=False)
    faulted = (" Orange: the same runs with the scenario's faults, whose retries, timeouts and failed payments are "
               "the faults' doing, not the split's. A hatched, faded bar of messages per booking rests on fewer "
               f"than {MIN_DENOMINATOR:g} bookings per run: counting noise, not a cost.") if migration.faulted else ""
    return RenderedFigure(
        "migration-stages.png", "Latency and messages by stage",
        "Each bar is the mean over the seeds, with its 95% interval. Blue: the stage without faults, what each "
        "split costs by itself in latency and in messages (client calls, service calls over the network and event "
        "deliveries) per booking." + faulted,
        figure_png(figure),
    )


def migration_blocks(migration: Migration) -> list[Block]:
    base = migration.plan.base
    blocks: list[Block] = [
        Heading(1, f"Migration stages: {base.name}"),
        Verdict(migration.holds, verdict_text(migration)),
        Paragraph(
            f"The same workload and fault schedule ran at each stage of the migration (design section 9), over "
            f"{seed_range(list(migration.seeds))}. A stage's processes are listed with the services each runs; "
            f"services in one process share its database, worker pool and crash domain, call each other as "
            f"functions and handle each other's events in the transaction that raises them."
        ),
        *([Paragraph(text)] if (text := cost_text(migration)) else []),
        *(Paragraph(note) for note in thin_notes(migration)),
        *([Heading(2, "Stage by stage, without faults"),
           Paragraph("Every stage run again with faults: [], the same seeds: what each split costs by itself."),
           _stage_table(migration, fault_free=True),
           Heading(2, "Stage by stage, with the scenario's faults")] if migration.faulted
          else [Heading(2, "Stage by stage")]),
        _stage_table(migration),
        Paragraph("Measures: the mean over the seeds with its percentile bootstrap 95% interval (never outside "
                  "what the measure can be). \"first broken here\": "
                  "the invariants some run of this stage broke and no run of an earlier stage did."),
    ]
    figure = stage_figure(migration)
    if figure is not None:
        blocks.append(Image(figure.name, figure.title, figure.caption, figure.png))
    repaired = [stage for stage in migration.stages if stage.repaired]
    if repaired:
        blocks.append(Paragraph("Broken earlier, held here: " + "; ".join(
            f"{stage.stage}: {', '.join(stage.repaired)}" for stage in repaired) + "."))
    probes = _probe_table(migration)
    if probes is not None:
        blocks += [
            Heading(2, "Situations reached by stage"),
            Paragraph("The dangerous interleavings the coverage probes look for (concertsim explore lists them): how "
                      "many runs of each stage reached each one, \"first\" where no run of an earlier stage did. A "
                      "split makes new situations possible (a reply lost after a deduction needs a network between "
                      "Reservation and Point); the safeguards exist for them."),
            probes,
        ]
    blocks += [
        Heading(2, "Invariants by stage"),
        _invariant_table(migration),
        Paragraph("Each cell: the seeds that broke the invariant, of those run, and the rate with its Wilson 95% "
                  "interval."),
        Heading(2, "Fault schedule"),
        *fault_blocks(base, "The scenario has no fault: every stage ran fault-free."),
        Heading(2, "How to read it"),
        Paragraph(
            "monolith: one process, one database; a payment and its point deduction are one local "
            "transaction. point_split: Point is its own service, reached over the network and the broker, so "
            "a deduction and the confirmation of its payment are two transactions, and the design's "
            "safeguards (idempotency keys, compensation, tombstones) have work to do. queue_split and "
            "concert_split move Queue and then Concert out; services is the full design. A fault aimed at a "
            "service strikes its whole process; a network fault between services of one process has no effect."
        ),
    ]
    return blocks


def write_migration_report(output: OutputDir, migration: Migration) -> None:
    """Write ``migration.json``, ``report.md``, ``report.html`` and the figure (when it has
    something to show) into ``output``; each file atomically."""
    output.write_json("migration.json", migration.to_json())
    write_report(output, migration_blocks(migration), f"concertsim: migration stages of {migration.plan.base.name}")

