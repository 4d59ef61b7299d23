"""The comparison report: design A against design B over the same seeds, side by side.

It opens with the verdict and the differences that are significant, then every invariant (how
often each side broke it, with its Wilson interval, and Fisher's exact test), every headline
measure (each side's mean with its bootstrap interval, the paired difference B − A with its
interval and the signed-rank test), a figure of the measures that differ, each seed's runs, and
how to read the numbers. ``comparison.json`` beside it holds the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.comparison import Comparison, InvariantComparison, MeasureComparison, RateOnSide
from concertsim.reports.comparison.figures import comparison_figures
from concertsim.reports.document.blocks import Block, Heading, Image, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.plotting.base import RenderedFigure
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.document.fault_words import fault_blocks
from concertsim.reports.document.writing import write_report
from concertsim.statistics import MIN_DENOMINATOR, SIGNIFICANCE, Interval, smallest_paired_p

__all__ = [
    "comparison_blocks",
    "write_comparison_report",
    "number",
    "interval_text",
    "difference_text",
    "plus_minus_text",
    "rate_text",
    "p_text",
    "measure_significance",
    "invariant_significance",
    "significant_differences",
]


# --- numbers ------------------------------------------------------------------------------------------------


def number(value: float | None, signed: bool = False) -> str:
    """A value with as many decimals as its size needs (none from 100, one from 10, else two)."""
    if value is None:
        return "-"
    if abs(value) < 1e-9:
        value = 0.0  # floating-point residue of differences that cancel, e.g. a mean of +x and -x
    size = abs(value)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2
    if value != 0 and round(value, digits) == 0:
        text = f"{value:+.2g}" if signed else f"{value:.2g}"  # not "+0.00" for a value that is not 0
    else:
        text = f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"
    return text.replace("-", "−")


def interval_text(interval: Interval | None, signed: bool = False) -> str:
    """``12.3 [11.0, 13.5]``: the estimate and its 95% interval ("-" for none)."""
    if interval is None:
        return "-"
    return f"{number(interval.estimate, signed)} [{number(interval.low, signed)}, {number(interval.high, signed)}]"


def plus_minus_text(interval: Interval | None, signed: bool = False) -> str:
    """``12.3 ± 1.2``: the estimate and half its 95% interval's width (only for a symmetric
    interval; a bootstrap interval is shown by :func:`interval_text`)."""
    if interval is None:
        return "-"
    return f"{number(interval.estimate, signed)} ± {number(interval.half_width)}"


def difference_text(measure: MeasureComparison) -> str:
    return interval_text(measure.difference, signed=True)


def rate_text(rate: RateOnSide | None) -> str:
    """``✘ 3 of 5 seeds · 60% [23, 88]`` (✔ when no seed broke it; "not checked" for none) over the
    seeds that judged it, ``(n/a in 2)`` after it when some could not; ``n/a: <reason>`` when no
    seed could."""
    if rate is None:
        return "not checked"
    if rate.rate is None:
        return not_applicable_text(rate.reason)
    broken, interval = len(rate.broken_seeds), rate.rate
    mark = "✘" if broken else "✔"
    unjudged = f" (n/a in {len(rate.not_applicable)})" if rate.not_applicable else ""
    return (f"{mark} {broken} of {rate.runs} · {interval.estimate * 100:.0f}% "
            f"[{interval.low * 100:.0f}, {interval.high * 100:.0f}]{unjudged}")


def p_text(p_value: float | None) -> str:
    if p_value is None:
        return "-"
    return f"{p_value:.2g}" if p_value >= 0.001 else "< 0.001"


def measure_significance(measure: MeasureComparison, thin_sides: bool = False) -> str:
    """"no", or "yes" with the side a significant difference favours; "no" says so when the
    seeds were too few for the test to show any difference while the interval excludes zero;
    "not compared" for a ratio over too few events, and for every measure when a side books almost
    nothing (``thin_sides``)."""
    if measure.not_compared is not None or thin_sides:
        return "not compared: too few bookings"
    if not measure.significant:
        if measure.interval_excludes_zero and smallest_paired_p(measure.pairs) >= SIGNIFICANCE:
            return f"no: {measure.pairs} seeds too few (interval excludes 0)"
        return "no"
    favours = measure.favours
    if favours is None:
        return "yes"
    return f"yes: {favours.upper()} better"


def invariant_significance(invariant: InvariantComparison) -> str:
    if invariant.p_value is None:
        sides = [side for side in (invariant.a, invariant.b) if side is not None]
        if len(sides) == 2 and not all(side.applicable for side in sides):
            return "- (not applicable on " + ("either side)" if not any(s.applicable for s in sides) else
                                               ("A)" if not sides[0].applicable else "B)"))
        return "- (checked on one side only)"
    if not invariant.significant:
        return "no"
    return f"yes: {invariant.worse.upper() if invariant.worse else '?'} breaks it more"


def significant_differences(comparison: Comparison) -> list[list[str]]:
    """The significant differences as rows: what, A, B, B − A, p, which side it favours."""
    rows = []
    for invariant in comparison.significant_invariants():
        assert invariant.a is not None and invariant.b is not None
        better = "B" if invariant.worse == "a" else "A"
        rows.append([f"invariant {invariant.id} broken", rate_text(invariant.a), rate_text(invariant.b),
                     f"{len(invariant.b.broken_seeds) - len(invariant.a.broken_seeds):+d} seeds",
                     p_text(invariant.p_value), f"{better} (breaks it less often)"])
    for measure in comparison.significant_measures():
        unit = measure.kind.unit
        favours = measure.favours.upper() if measure.favours else "neither way is better"
        rows.append([f"{measure.kind.title} ({unit})", number(measure.a.estimate if measure.a else None),
                     number(measure.b.estimate if measure.b else None), difference_text(measure),
                     p_text(measure.p_value), favours])
    return rows


# --- the report ---------------------------------------------------------------------------------------------


def _what_is_compared(comparison: Comparison) -> Paragraph:
    plan = comparison.plan
    differing = "; ".join(f"{d.field}: {_cell_value(d.a)} in A, {_cell_value(d.b)} in B"
                          for d in plan.differences[:6])
    if len(plan.differences) > 6:
        differing += f"; and {len(plan.differences) - 6} more (see The two sides)"
    if plan.identical:
        differing = "the two sides are identical: every difference below is zero by construction"
    elif not plan.differences:
        differing = "the sides differ only in their fault schedules"
    return Paragraph(f"A = {plan.a.label}; B = {plan.b.label}. What differs: {differing}. "
                     f"{plan.seed_note} {plan.fault_note}")


def _significance_blocks(comparison: Comparison) -> list[Block]:
    rows = significant_differences(comparison)
    blocks: list[Block] = [Heading(2, "Significant differences")]
    if rows:
        blocks += [
            Paragraph(f"Differences with p < {SIGNIFICANCE:g}: for an invariant, how many of the "
                      f"{len(comparison.seeds)} seeds broke it on each side (Fisher's exact test); for a "
                      "measure, each side's mean and the mean per-seed difference B − A with its 95% "
                      "interval (Wilcoxon signed-rank test)."),
            Table(["difference", "A", "B", "B − A", "p", "favours"], rows),
        ]
    else:
        blocks.append(Paragraph(f"No difference is significant at p < {SIGNIFICANCE:g}."))
    if (power := comparison.power_note()) is not None:
        blocks.append(Paragraph(power))
    return blocks


def _invariant_table(comparison: Comparison) -> Table:
    rows = [[i.id, i.kind, rate_text(i.a), rate_text(i.b), p_text(i.p_value), invariant_significance(i)]
            for i in comparison.invariants]
    return Table(["invariant", "kind", "A: seeds that broke it · rate [95% CI]",
                  "B: seeds that broke it · rate [95% CI]", "p (Fisher)", "significant"], rows)


def _measure_table(comparison: Comparison) -> Table:
    rows = [[m.kind.title, m.kind.unit, interval_text(m.a), interval_text(m.b), difference_text(m),
             p_text(m.p_value if m.difference is not None else None),
             measure_significance(m, comparison.thin_sides() is not None)]
            for m in comparison.measures]
    return Table(["measure", "unit", "A: mean [95% CI]", "B: mean [95% CI]", "B − A per seed [95% CI]",
                  "p (signed-rank)", "significant"], rows)


def _cell_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "-"
    return str(value)


def _sides_blocks(comparison: Comparison) -> list[Block]:
    plan = comparison.plan
    a, b = plan.a, plan.b
    rows = [
        ["label", a.label, b.label],
        ["scenario", a.spec, b.spec],
        ["overrides for this side", ", ".join(a.overrides) or "-", ", ".join(b.overrides) or "-"],
        ["overrides for both", ", ".join(a.shared) or "-", ", ".join(b.shared) or "-"],
        *([f"{d.field}", _cell_value(d.a), _cell_value(d.b)] for d in plan.differences),
        ["fault schedule", _fault_source(comparison, "a"), _fault_source(comparison, "b")],
        ["seeds", _seed_range(comparison), _seed_range(comparison)],
    ]
    blocks: list[Block] = [
        Heading(2, "The two sides"),
        Table(["", "A", "B"], rows),
        Paragraph(f"{plan.seed_note} {plan.fault_note}"),
    ]
    if a.scenario.faults == b.scenario.faults:
        blocks += [Heading(3, "Fault schedule (both sides)"),
                   *fault_blocks(a.scenario, "No faults: every service stayed up and every message arrived.")]
    else:
        for side in (a, b):
            blocks += [Heading(3, f"Fault schedule of {side.key.upper()}"),
                       *fault_blocks(side.scenario, "No faults.")]
    return blocks


def _fault_source(comparison: Comparison, key: str) -> str:
    side = comparison.plan.a if key == "a" else comparison.plan.b
    count = len(side.scenario.faults)
    text = "no faults" if not count else f"{count} fault{'s' if count != 1 else ''}"
    return f"{text} (the other side's)" if side.faults_replaced else f"{text} (its own)"


def _seed_range(comparison: Comparison) -> str:
    seeds = comparison.seeds
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]} ({len(seeds)} seeds)"


def _per_seed_blocks(comparison: Comparison) -> list[Block]:
    by_seed = ({s.seed: s for s in comparison.a_runs.seeds}, {s.seed: s for s in comparison.b_runs.seeds})
    rows = []
    for seed in comparison.seeds:
        a, b = by_seed[0][seed], by_seed[1][seed]
        rows.append([str(seed), _violated_cell(a.violated), _violated_cell(b.violated),
                     a.trace_sha256[:12], b.trace_sha256[:12]])
    blocks: list[Block] = [
        Heading(2, "Per seed"),
        Paragraph("Each seed ran once on each side. A trace hash identifies a run: the same scenario and "
                  "seed give the same hash."),
        Table(["seed", "A: invariants broken", "B: invariants broken", "A trace SHA-256", "B trace SHA-256"], rows),
    ]
    plan = comparison.plan
    first = comparison.seeds[0]
    commands = [(s.key.upper(), s.run_command(first)) for s in (plan.a, plan.b)]
    shown = [f"{key}: `{command}`" for key, command in commands if command is not None]
    if shown:
        blocks.append(Paragraph(f"To look into one run (here seed {first}), with its full report: "
                                + "; ".join(shown) + "."))
    return blocks


def _violated_cell(violated: Sequence[str]) -> str:
    return f"✘ {', '.join(violated)}" if violated else "✔ none"


def _method_blocks(comparison: Comparison) -> list[Block]:
    n = len(comparison.seeds)
    tests = len([i for i in comparison.invariants if i.p_value is not None]) + len(comparison.measures)
    return [
        Heading(2, "How to read this"),
        Paragraph(f"Both sides ran the same {n} seeds, so a seed's two runs saw the same arrivals and the same "
                  "random draws wherever the designs do not make them diverge. An invariant's rate is the "
                  "share of seeds that broke it, with its Wilson 95% interval (honest for 0 of n); two rates "
                  "are compared with Fisher's exact test. A measure's mean has a percentile bootstrap 95% "
                  "interval, which stays within what the measure can be (no negative latency, throughput, "
                  "time or count); the two sides are compared seed by seed: the mean of the differences "
                  "B − A with its bootstrap interval, and the Wilcoxon signed-rank test, which assumes no "
                  f"normal distribution. A difference is significant when its p-value is below {SIGNIFICANCE:g}. "
                  f"A ratio over fewer than {MIN_DENOMINATOR:g} events per seed (messages per booking over "
                  "a booking or two) is not compared: one booking more or less moves it by a third or more. "
                  "When a side books almost nothing, the verdict rests on the invariants alone."),
        Paragraph(f"This report makes {tests} tests. Of differences that are really nothing, about one in "
                  f"twenty comes out below {SIGNIFICANCE:g} by chance, so a lone significant measure among "
                  "many should hold up with more seeds (--seeds) before it decides anything. (Identical "
                  "sides give identical runs seed by seed: their differences are exactly zero.)"),
    ]


def comparison_blocks(comparison: Comparison, figures: Sequence[RenderedFigure]) -> list[Block]:
    """The report's content: verdict, significant differences, invariants, measures, the
    ``figures`` (those with something to show), the two sides, each seed, and how to read it."""
    plan = comparison.plan
    blocks: list[Block] = [
        Heading(1, f"Comparison: {plan.a.label} vs {plan.b.label}"),
        Verdict(comparison.holds, comparison.verdict()),
        Paragraph(comparison.grounds()),
        _what_is_compared(comparison),
        *_significance_blocks(comparison),
        Heading(2, "Invariants"),
        Paragraph("How many seeds broke each invariant on each side. A safety invariant must hold at every "
                  "moment; a convergence invariant once every fault is healed and the system has settled."),
        _invariant_table(comparison),
        Heading(2, "Measures"),
        Paragraph("Each side's mean over the seeds, and the mean of the per-seed differences B − A. "
                  "Latency is client-observed over every operation (payments alone for the payment row); "
                  "throughput counts confirmed bookings per minute of workload; the funnel counts users."),
        _measure_table(comparison),
    ]
    if figures:
        blocks.append(Heading(2, "Figures"))
    for figure in figures:
        blocks += [Heading(3, figure.title), Image(f"{figure.name}.png", figure.title, figure.caption, figure.png)]
    blocks += [*_sides_blocks(comparison), *_per_seed_blocks(comparison), *_method_blocks(comparison)]
    blocks += [Heading(2, "Files"),
               Paragraph("Beside this report: comparison.json (every rate, interval, p-value and each seed's "
                         "measures and trace hash)" + (" and each figure as a PNG file." if figures else "."))]
    return blocks


def write_comparison_report(output: OutputDir, comparison: Comparison) -> None:
    """Write ``comparison.json``, ``report.md``, ``report.html`` and each figure that has
    something to show (:func:`comparison_figures`) into ``output``; each file atomically."""
    output.write_json("comparison.json", comparison.to_json())
    blocks = comparison_blocks(comparison, comparison_figures(comparison))
    write_report(output, blocks, f"concertsim: {comparison.plan.a.label} vs {comparison.plan.b.label}")
