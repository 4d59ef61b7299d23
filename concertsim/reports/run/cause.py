"""The first screen of a failure report: the broken promise, what in the design let it break, the
fault schedule that set it off, in words, and the saga drawn as the hero figure.

What let it break is the design's difference from the default design (``design_switches``): a
switch that differs and exists for the broken promise is its cause ("compensation is switched
off: nothing refunds a deduction whose reservation failed"). A promise broken by the default
design is a gap in the design, and the report says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from concertsim.checks.base import Violation
from concertsim.reports.run.broker_delivery import broker_cause
from concertsim.reports.run.migration_cause import migration_cause
from concertsim.reports.run.design_switches import DesignChange, design_changes, explained_first
from concertsim.reports.document.blocks import Block, CodeSpan, Image, Table, Verdict
from concertsim.reports.document.fault_words import fault_sentence
from concertsim.reports.run.figures import RenderedFigure
from concertsim.reports.document.formatting import plural

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["explanation", "failure_summary", "schedule_words", "cause_words", "first_violation"]


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _settings(changes: list[DesignChange]) -> str:
    return ", ".join(change.setting for change in changes)


def cause_words(outcome: RunOutcome, invariant: str) -> str:
    """What in the design let ``invariant`` break, in a sentence or two."""
    changes = design_changes(outcome.result.scenario.design)
    explaining = [change for change in changes if change.explains(invariant)]
    if explaining:
        defaults = ", ".join(change.default_setting for change in explaining)
        return "; ".join(_capital(c.sentence) if i == 0 else c.sentence for i, c in enumerate(explaining)) + (
            f" ({_settings(explaining)}, where the default design has {defaults})."
        )
    broker = broker_cause(outcome.result.scenario, invariant)
    if broker is not None:
        return broker
    migration = migration_cause(outcome.result.scenario, invariant)
    if migration is not None:
        return migration
    if changes:
        return (f"The design differs from the default ({_settings(changes)}), but no switch that differs exists "
                "for this promise: the default design may break it the same way, or it follows from another "
                "broken promise.")
    return ("Nothing is switched off: this is the default design, so the faults alone break the promise, a gap "
            "in the design (or in concertsim) worth a closer look.")


def schedule_words(outcome: RunOutcome) -> str:
    """The run's fault schedule in sentences, or that it had none."""
    scenario = outcome.result.scenario
    if not scenario.faults:
        return "No fault: the design breaks the promise on its own."
    return " ".join(fault_sentence(fault, scenario) for fault in scenario.faults)


def first_violation(outcome: RunOutcome) -> Violation | None:
    """The violation a report leads with: the first of a promise the design's difference from
    the default explains, else the first of all."""
    ordered = explained_first(outcome.verdicts, outcome.result.scenario.design)
    return ordered[0].violations[0] if ordered else None


def explanation(outcome: RunOutcome, invariant: str) -> str:
    """Why ``invariant`` broke, tied to what happened: the cause in the design, the faults that
    set it off, and the first violation it led to."""
    verdict = next(v for v in outcome.verdicts if v.invariant.id == invariant)
    first = verdict.violations[0] if verdict.violations else None
    faults = outcome.result.scenario.faults
    trigger = (f" The fault schedule set it off ({plural(len(faults), 'fault')}, above)." if faults
               else " No fault was needed.")
    result = f" So: {first.message.rstrip('.')}." if first is not None else ""
    return cause_words(outcome, invariant) + trigger + result


def failure_summary(
    outcome: RunOutcome, hero: RenderedFigure | None, *, schedule_label: str = "the fault schedule",
    replay: str | None = None,
) -> list[Block]:
    """The first screen of a failure report: the broken promise as the verdict, a table of what
    broke, why the design let it, the faults in words (and how to replay it), then ``hero``, the
    drawing of the saga that shows it."""
    lead = first_violation(outcome)
    broken = [v for v in outcome.verdicts if v.violated]
    if lead is None:
        return []
    verdict = next(v for v in broken if v.invariant.id == lead.invariant)
    headline = f"Broken promise ({verdict.invariant.id}): {verdict.invariant.promise}"
    total = sum(len(v.violations) for v in broken)
    what = lead.message
    if total > 1:
        counted = ", ".join(f"{v.invariant.id} {len(v.violations):,}" for v in broken)
        what += f" ({total:,} violations in all: {counted})"
    rows: list[list] = [
        ["what broke", what],
        ["why the design let it", cause_words(outcome, lead.invariant)],
    ]
    others = [c for c in design_changes(outcome.result.scenario.design) if not c.explains(lead.invariant)]
    if others and len(others) < len(design_changes(outcome.result.scenario.design)):
        rows.append(["also unlike the default design",
                     "; ".join(f"{_capital(c.sentence)} ({c.setting})" for c in others)])
    rows.append([schedule_label, schedule_words(outcome)])
    if replay:
        rows.append(["replay it", CodeSpan(replay)])
    blocks: list[Block] = [Verdict(False, headline), Table(["the failure", "in short"], rows)]
    if hero is not None:
        blocks.append(Image(f"{hero.name}.png", hero.title, hero.caption, hero.png))
    return blocks
