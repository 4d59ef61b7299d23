"""What a notebook shows for a run, an exploration or a comparison (their ``_repr_html_``): the
verdict first, the table of invariants, and the key figures inline, as one self-contained HTML
fragment. Every string from a scenario is escaped."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concertsim.reports.capacity_figure import capacity_png

if TYPE_CHECKING:
    from concertsim.api import RunOutcome
    from concertsim.comparison import Comparison
    from concertsim.exploration import Exploration

__all__ = ["run_html", "exploration_html", "comparison_html"]

_STYLE = ("font-family: system-ui, sans-serif; font-size: 13px; line-height: 1.4; max-width: 980px")
_OK, _BAD = "#1a7f37", "#cf222e"
_FUNNEL = ("arrived", "admitted", "held", "paid", "confirmed")


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _verdict(ok: bool, text: str) -> str:
    colour = _OK if ok else _BAD
    mark = "✔" if ok else "✘"
    return (f'<div style="padding:6px 10px;border-left:4px solid {colour};background:{colour}14;'
            f'font-weight:600;margin:6px 0">{mark} {_e(text)}</div>')


def _table(header: list[str], rows: list[list[str]], raw: bool = False) -> str:
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{_e(h)}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px;vertical-align:top">{c if raw else _e(c)}</td>' for c in row)
        + "</tr>" for row in rows)
    return f'<table style="border-collapse:collapse;margin:6px 0"><tr>{head}</tr>{body}</table>'


def _png(png: bytes, alt: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f'<img alt="{_e(alt)}" style="max-width:100%" src="data:image/png;base64,{encoded}"/>'


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
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def run_html(outcome: RunOutcome) -> str:
    """A run: its verdict, each invariant (with the first violation of a broken one), the user
    funnel and, if a worker or connection pool saturated, the capacity figure."""
    result = outcome.result
    broken = outcome.violated
    total = len(outcome.verdicts)
    verdict = (f"{result.scenario.name}, seed {result.seed}: all {total} invariants hold" if not broken
               else f"{result.scenario.name}, seed {result.seed}: broke {len(broken)} of {total} invariants: "
                    + ", ".join(broken))
    parts = [f'<div style="{_STYLE}">', _verdict(not broken, verdict)]
    if broken:
        rows = []
        for v in outcome.verdicts:
            if v.holds:
                continue
            first = v.violations[0]
            rows.append([v.invariant.id, v.invariant.kind, str(len(v.violations)),
                         first.message + (f" (at {first.at:.3f} s)" if first.at is not None else "")])
        parts.append(_table(["broken invariant", "kind", "violations", "first violation"], rows))
    held = [v.invariant.id for v in outcome.verdicts if v.holds]
    if held:
        parts.append(f'<p style="color:#555">{"Held" if broken else "Checked"}: {_e(", ".join(held))}.</p>')
    parts.append(_png(_funnel_png(outcome.metrics["funnel"]), "the user funnel"))
    resources = outcome.metrics.get("resources", {})
    if any(row["saturated_at"] is not None for row in resources.values()):
        png = capacity_png(resources, result.phases.ended_at)
        if png is not None:
            parts.append(_png(png, "utilisation and queues over time"))
    parts.append(f'<div style="color:#666">trace sha256 {_e(result.trace_sha256[:16])}…; '
                 f'{len(result.trace):,} trace records; {_e(result.phases.ended_at)} s simulated</div></div>')
    return "".join(parts)


def _fault_row(fault: Any) -> list[str]:
    match = fault.match
    what = "" if match is None else ", ".join(
        f"{k}={v}" for k, v in match.model_dump(exclude_defaults=True).items())
    duration = "until heal" if fault.duration is None else f"{fault.duration:g} s"
    return [fault.kind, fault.target, f"{fault.at:g} s", duration, what]


def exploration_html(found: Exploration) -> str:
    """An exploration: whether it found a counterexample in how many examples, the minimal fault
    schedule, and the counterexample's run."""
    parts = [f'<div style="{_STYLE}">']
    if not found.found or found.counterexample is None or found.outcome is None:
        parts.append(_verdict(True, f"{found.base.name}: no counterexample in {found.generated} examples "
                                    f"({found.runs} runs)"))
        note = found.budget_note()
        if note:
            parts.append(f"<p>{_e(note)}</p>")
        unreached = found.unreached_probes()
        if unreached:
            parts.append(f"<p>Never reached: {_e(', '.join(unreached))}.</p>")
        return "".join(parts) + "</div>"
    example = found.counterexample
    parts.append(_verdict(False, f"{found.base.name}: counterexample at example {found.examples_to_failure}, "
                                 f"shrunk to {len(example.faults)} fault(s) and {example.workload.users} user(s): "
                                 + ", ".join(found.outcome.violated)))
    if example.faults:
        parts.append(_table(["fault", "target", "at", "for", "messages"], [_fault_row(f) for f in example.faults]))
    else:
        parts.append("<p>No fault is needed: the workload alone breaks it.</p>")
    parts.append(run_html(found.outcome))
    return "".join(parts) + "</div>"


def comparison_html(comparison: Comparison) -> str:
    """A comparison: its verdict, the invariants either side broke, and the measures with their
    intervals and significance."""
    plan = comparison.plan
    parts = [f'<div style="{_STYLE}">', _verdict(comparison.holds, comparison.verdict()),
             f"<p>A = {_e(plan.a.label)}; B = {_e(plan.b.label)}; seeds {_e(', '.join(map(str, comparison.seeds)))}.</p>"]
    broken = [i for i in comparison.invariants
              if (i.a is not None and i.a.broken_seeds) or (i.b is not None and i.b.broken_seeds)]
    if broken:
        parts.append(_table(["invariant", "A broke it in", "B broke it in", "p (Fisher)"], [
            [i.id, f"{len(i.a.broken_seeds) if i.a else '-'} of {i.a.runs if i.a else '-'}",
             f"{len(i.b.broken_seeds) if i.b else '-'} of {i.b.runs if i.b else '-'}",
             "-" if i.p_value is None else f"{i.p_value:.3g}"] for i in broken]))
    rows = []
    for m in comparison.measures:
        if m.a is None and m.b is None:
            continue
        rows.append([m.name, "-" if m.a is None else m.a.format(2), "-" if m.b is None else m.b.format(2),
                     "-" if m.difference is None else m.difference.format(2), f"{m.p_value:.3g}",
                     "yes" if m.significant else "no"])
    parts.append(_table(["measure", "A: mean [95% CI]", "B: mean [95% CI]", "B − A", "p", "significant"], rows))
    return "".join(parts) + "</div>"
