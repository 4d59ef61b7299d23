"""The migration report: every stage of seed 9 side by side, in the seed's order.

It opens with the verdict and the failure modes each split introduces, then a stage-by-stage table
(processes, invariants, latency, messages per booking), a figure of latency and messages by stage
(when there are two stages or more), the dangerous situations each stage reached (coverage
probes), every invariant's violation rate per stage, the fault schedule, and how to read it. ``migration.json`` beside it holds the same figures.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from concertsim.migration import Migration, StageResult, processes_text
from concertsim.reports.document import Block, Heading, Image, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.outputs import OutputDir
from concertsim.reports.plotting import RenderedFigure, figure_png
from concertsim.reports.report_blocks import fault_blocks, plural, write_report
from concertsim.reports.sweep_report import measure_parts
from concertsim.sweep.grid import seed_range

__all__ = [
    "STAGE_MEASURES",
    "introduced_text",
    "measure_cell",
    "migration_blocks",
    "verdict_text",
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


def measure_cell(stage: StageResult, measure: str) -> str:
    estimate, spread = measure_parts(stage.summary.measures.get(measure))
    return f"{estimate} {spread}".strip()


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


def verdict_text(migration: Migration) -> str:
    runs = len(migration.seeds)
    if migration.holds:
        everywhere, only_at = not_applicable_by_stage(migration)
        if not everywhere and not only_at:
            return f"Every invariant held at every stage, in each of {plural(runs, 'seed')}."
        unjudged = f"; {len(everywhere)} not applicable at every stage" if everywhere else ""
        return f"Every invariant judged held at every stage, in each of {plural(runs, 'seed')}{unjudged}."
    parts = [f"{stage.stage} first breaks {', '.join(stage.introduced)}" for stage in migration.stages
             if stage.introduced]
    return "; ".join(parts) + f" (over {plural(runs, 'seed')})."


def _stage_table(migration: Migration) -> Table:
    header = ["stage", "processes", "invariants", *STAGE_MEASURES.values(), "first broken here"]
    rows = []
    for stage in migration.stages:
        runs = len(stage.summary.runs)
        invariants = (f"all held in {runs} of {runs}" if stage.summary.holds else
                      "; ".join(f"{rate.invariant} {rate.violated} of {rate.runs}" for rate in stage.broken))
        if stage.summary.not_applicable:
            invariants += f"; n/a: {', '.join(rate.invariant for rate in stage.summary.not_applicable)}"
        rows.append([stage.stage, processes_text(stage.stage, migration.plan.base.workload.users), invariants,
                     *(measure_cell(stage, m) for m in STAGE_MEASURES), introduced_text(stage)])
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
    figure = Figure(figsize=(9.0, 3.4), layout="constrained")
    positions = list(range(len(stages)))
    for index, (name, label) in enumerate(panels):
        axes = figure.add_subplot(1, 2, index + 1)
        intervals = [stage.summary.measures.get(name) for stage in stages]
        heights = [i.estimate if i is not None else 0.0 for i in intervals]
        # Neither measure can be negative: an interval reaching below zero (few seeds) is cut there.
        errors = [[i.estimate - max(i.low, 0.0) if i is not None else 0.0 for i in intervals],
                  [i.high - i.estimate if i is not None else 0.0 for i in intervals]]
        axes.bar(positions, heights, yerr=errors, color="#4c72b0", capsize=4)
        axes.set_xticks(positions, [stage.stage.replace("_", "\n").replace("@", "\n@") for stage in stages], fontsize=8)
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0)
    return RenderedFigure(
        "migration-stages.png", "Latency and messages by stage",
        "Each bar is the mean over the seeds, with its 95% interval (cut at zero): what each split costs in "
        "latency and in messages (client calls, service calls over the network and event deliveries) per booking.",
        figure_png(figure),
    )


def migration_blocks(migration: Migration) -> list[Block]:
    base = migration.plan.base
    blocks: list[Block] = [
        Heading(1, f"Migration stages: {base.name}"),
        Verdict(migration.holds, verdict_text(migration)),
        Paragraph(
            f"The same workload and fault schedule ran at each stage of the migration (seed 9), over "
            f"{seed_range(list(migration.seeds))}. A stage's processes are listed with the services each runs; "
            f"services in one process share its database, worker pool and crash domain, call each other as "
            f"functions and handle each other's events in the transaction that raises them."
        ),
        Heading(2, "Stage by stage"),
        _stage_table(migration),
        Paragraph("Measures: the mean over the seeds with its Student-t 95% interval. \"first broken here\": "
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

