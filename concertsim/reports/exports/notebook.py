"""What a notebook shows for a run, an exploration or a comparison (their ``_repr_html_``): the
verdict first, the broken invariants, and the key figures inline. Written as report blocks and
rendered by :func:`concertsim.reports.document.html.to_html_fragment`, which escapes every string."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concertsim.reports.plotting.capacity import capacity_png
from concertsim.reports.document.blocks import Block, Image, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.document.verdict_words import verdict_counts
from concertsim.reports.document.html import to_html_fragment
from concertsim.reports.plotting.base import figure_png

if TYPE_CHECKING:
    from concertsim.api import RunOutcome
    from concertsim.comparison import Comparison
    from concertsim.exploration import Exploration

__all__ = ["run_html", "exploration_html", "comparison_html"]

_FUNNEL = ("arrived", "admitted", "held", "paid", "confirmed")


def _funnel_png(funnel: dict[str, int]) -> bytes:
    figure = Figure(figsize=(6.5, 1.9), layout="constrained")
    axes = figure.subplots()
    values = [funnel[stage] for stage in _FUNNEL]
    axes.barh(range(len(_FUNNEL)), values, color="#1f77b4")
    axes.set_yticks(range(len(_FUNNEL)), list(_FUNNEL))
    axes.invert_yaxis()
    for row, value in enumerate(values):
        axes.text(value, row, f" {value}", va="center", fontsize=8)
    axes.set_xlim(0, max(values + [1]) * 1.12)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("users")
    axes.set_title(f"How far the users got ({funnel['unsold_seats']} seats unsold at the end)", fontsize=10)
    for spine in ("top", "right"):
        axes.spines[spine].set_visible(False)
    return figure_png(figure)


def _run_blocks(outcome: RunOutcome) -> list[Block]:
    result = outcome.result
    broken = outcome.violated
    total = len(outcome.verdicts)
    verdict = (f"{result.scenario.name}, seed {result.seed}: {verdict_counts(outcome.verdicts)}" if not broken
               else f"{result.scenario.name}, seed {result.seed}: broke {len(broken)} of {total} invariants: "
                    + ", ".join(broken))
    blocks: list[Block] = [Verdict(not broken, verdict)]
    if broken:
        rows = []
        for v in outcome.verdicts:
            if v.violated:
                first = v.violations[0]
                rows.append([v.invariant.id, v.invariant.kind, str(len(v.violations)),
                             first.message + (f" (at {first.at:.3f} s)" if first.at is not None else "")])
        blocks.append(Table(["broken invariant", "kind", "violations", "first violation"], rows))
    held = [v.invariant.id for v in outcome.verdicts if v.holds]
    if held:
        blocks.append(Paragraph(f"Held: {', '.join(held)}."))
    unjudged = [v for v in outcome.verdicts if v.not_applicable is not None]
    if unjudged:
        blocks.append(Table(["not applicable", "why"], [[v.invariant.id, not_applicable_text(v.not_applicable)]
                                                       for v in unjudged]))
    blocks.append(Image("funnel.png", "the user funnel", "How far the users got.",
                        _funnel_png(outcome.metrics["funnel"])))
    resources = outcome.metrics.get("resources", {})
    if any(row["saturated_at"] is not None for row in resources.values()):
        png = capacity_png(resources, result)
        if png is not None:
            blocks.append(Image("capacity.png", "utilisation and queues over time",
                                "The pools that saturated, and when.", png))
    blocks.append(Paragraph(f"Trace sha256 {result.trace_sha256[:16]}…; {len(result.trace):,} trace records; "
                            f"{result.phases.ended_at} s simulated."))
    return blocks


def run_html(outcome: RunOutcome) -> str:
    """A run: its verdict, the broken invariants with their first violation, the user funnel and,
    if a worker or connection pool saturated, the capacity figure."""
    return to_html_fragment(_run_blocks(outcome))


def _fault_row(fault: Any) -> list[str]:
    match = fault.match
    what = "" if match is None else ", ".join(f"{k}={v}" for k, v in match.model_dump(exclude_defaults=True).items())
    duration = "until heal" if fault.duration is None else f"{fault.duration:g} s"
    return [fault.kind, fault.target, f"{fault.at:g} s", duration, what]


def exploration_html(found: Exploration) -> str:
    """An exploration: whether it found a counterexample in how many examples, the minimal fault
    schedule, and the counterexample's run."""
    if not found.found or found.counterexample is None or found.outcome is None:
        blocks: list[Block] = [Verdict(True, f"{found.base.name}: no counterexample in {found.generated} "
                                             f"examples ({found.runs} runs)")]
        if found.budget_note():
            blocks.append(Paragraph(found.budget_note()))
        if found.unreached_probes():
            blocks.append(Paragraph(f"Never reached: {', '.join(found.unreached_probes())}."))
        return to_html_fragment(blocks)
    example = found.counterexample
    blocks = [Verdict(False, f"{found.base.name}: counterexample at example {found.examples_to_failure}, "
                             f"shrunk to {len(example.faults)} fault(s) and {example.workload.users} user(s): "
                             + ", ".join(found.outcome.violated))]
    if example.faults:
        blocks.append(Table(["fault", "target", "at", "for", "messages"], [_fault_row(f) for f in example.faults]))
    else:
        blocks.append(Paragraph("No fault is needed: the workload alone breaks it."))
    return to_html_fragment(blocks + _run_blocks(found.outcome))


def comparison_html(comparison: Comparison) -> str:
    """A comparison: its verdict, the invariants either side broke, and the measures with their
    intervals and significance."""
    plan = comparison.plan
    blocks: list[Block] = [
        Verdict(comparison.holds, comparison.verdict()),
        Paragraph(f"A = {plan.a.label}; B = {plan.b.label}; seeds {', '.join(map(str, comparison.seeds))}."),
    ]
    broken = [i for i in comparison.invariants
              if (i.a is not None and i.a.broken_seeds) or (i.b is not None and i.b.broken_seeds)]
    if broken:
        blocks.append(Table(["invariant", "A broke it in", "B broke it in", "p (Fisher)"], [
            [i.id, f"{len(i.a.broken_seeds) if i.a else '-'} of {i.a.runs if i.a else '-'}",
             f"{len(i.b.broken_seeds) if i.b else '-'} of {i.b.runs if i.b else '-'}",
             "-" if i.p_value is None else f"{i.p_value:.3g}"] for i in broken]))
    rows = [[m.name, "-" if m.a is None else m.a.format(2), "-" if m.b is None else m.b.format(2),
             "-" if m.difference is None else m.difference.format(2), f"{m.p_value:.3g}",
             "yes" if m.significant else "no"]
            for m in comparison.measures if m.a is not None or m.b is not None]
    unjudged = comparison.not_applicable()
    if unjudged:
        blocks.append(Paragraph("Not applicable (no seed could judge it): "
                                + "; ".join(f"{name} ({where})" for name, where in unjudged.items()) + "."))
    blocks.append(Table(["measure", "A: mean [95% CI]", "B: mean [95% CI]", "B − A", "p", "significant"], rows))
    return to_html_fragment(blocks)
