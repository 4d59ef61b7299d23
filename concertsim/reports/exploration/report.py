"""The exploration report: the minimal counterexample a search found and why it breaks, or, for a
search that found none, how much of the dangerous ground it covered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from concertsim.checks.probes import PROBES, probe_counts
from concertsim.reports.run import figures as run_figures
from concertsim.reports.run.cause import failure_summary
from concertsim.reports.exploration.counterexample import (
    deletion_pass_blocks,
    minimality_sentence,
    replay_blocks,
    shrinking_sentence,
    simulations,
)
from concertsim.reports.document.blocks import Block, Heading, Paragraph, Table, Verdict, not_applicable_text
from concertsim.reports.run.figures import MESSAGE_FLOW, RenderedFigure, featured_saga
from concertsim.reports.document.formatting import plural
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.document.fault_words import fault_blocks
from concertsim.reports.document.writing import write_report
from concertsim.reports.run.sections import figure_blocks, invariant_table, scenario_blocks
from concertsim.reports.run.violations import sagas_explained, violation_blocks

if TYPE_CHECKING:
    from concertsim.exploration import Exploration

__all__ = ["exploration_blocks", "write_exploration_report", "COUNTEREXAMPLE_FILE"]

COUNTEREXAMPLE_FILE = "counterexample.yaml"
"""Where ``concertsim explore`` writes the counterexample, beside the report."""

PROBE_MEANING = {
    "reply-lost-after-deduction": "Point deducted points but its reply never reached the caller in time: "
    "it was lost, or came after the caller had given up. The caller cannot tell whether the payment "
    "happened (the ambiguous case).",
    "redelivery-skipped-by-inbox": "An event was delivered again and the consumer's processed-event "
    "table recognised and skipped it.",
    "refund-overtook-deduction": "A reservation's refund was handled before a deduction for it arrived, "
    "so the late deduction had to be refused.",
    "payment-at-hold-expiry": "A payment met a hold that expired meanwhile, and the reservation failed "
    "after the points were taken.",
    "relay-republished": "An outbox event was published twice (a relay crashed between publishing and "
    "marking it, or an acknowledgement was lost).",
    "parked-in-dead-letter-topic": "An event kept failing and was parked in a dead-letter topic.",
    "released-seat-resold": "A seat released by an expired or failed hold was sold to another reservation later "
    "(the promise of design section 1: a hold not paid in time makes the seat available again).",
}


def _first_sentence(text: str) -> str:
    """The first sentence of a docstring, on one line."""
    flat = " ".join(text.split())
    end = flat.find(". ")
    return flat if end < 0 else flat[: end + 1]


def _probe_blocks(exploration: Exploration) -> list[Block]:
    outcome = exploration.outcome
    in_counterexample = probe_counts(outcome.result) if outcome is not None else {}
    header = ["probe", "the situation"]
    header += ["in the search", "in the counterexample", "times reached"] if outcome is not None else ["times reached"]
    rows = []
    for name, probe in PROBES.items():
        meaning = PROBE_MEANING.get(name) or _first_sentence(probe.__doc__ or "")
        searched, found = exploration.probes.get(name, 0), in_counterexample.get(name, 0)
        counts = [str(searched), str(found)] if outcome is not None else []
        rows.append([name, meaning, *counts, str(searched + found) if searched + found else "✘ never"])
    counted = (f"the {plural(exploration.generated, 'generated example')}"
               + (" and the counterexample's own run" if outcome is not None else ""))
    heading = ("Coverage, counting the search and the counterexample: did they reach the dangerous states?"
               if outcome is not None else "Coverage: did the search reach the dangerous states?")
    blocks: list[Block] = [
        Heading(2, heading),
        Paragraph(f"How often {counted} reached each interleaving that the design's safeguards exist for (the "
                  "shrinking runs are not counted)."),
        Table(header, rows),
    ]
    unreached = [name for name in PROBES if not exploration.probes.get(name) and not in_counterexample.get(name)]
    if unreached and not exploration.found:
        blocks.append(Verdict(False, f"Never reached: {', '.join(unreached)}. A green result that never "
                                     "reached the dangerous state proves little: run more examples, or aim "
                                     "the fault kinds at it."))
    elif unreached:
        blocks.append(Paragraph(f"Never reached, in the search or the counterexample: {', '.join(unreached)}. "
                                "Promises that depend on those situations are not tested by this search."))
    else:
        blocks.append(Paragraph("Every probe was reached at least once."))
    return blocks


def _search_table(exploration: Exploration) -> Table:
    """How much the search did: examples asked for and tried (and why fewer), its rounds, seed
    and every simulation it ran, split by what it was for."""
    from concertsim.search.rounds import ROUND_SIZE  # here, so that a run report does not load Hypothesis

    search, shrinking = simulations(exploration)
    split = [f"{search} search"]
    if exploration.minimization is not None:
        split.append(f"{shrinking} shrinking")
    described = f"{exploration.runs}: {', '.join(split)}"
    if len(split) == 1 and not exploration.found:
        described = f"{exploration.runs}, all search (nothing failed, so nothing was shrunk)"
    if exploration.found:
        described += "; 2 more confirmed that the counterexample replays exactly"
    rows = [
        ["base scenario", exploration.base.name],
        ["examples requested", str(exploration.examples_requested)],
        ["examples tried", exploration.budget_note() or str(exploration.generated)],
        ["examples over the event budget", _over_budget(exploration)],
        ["rounds and workers", f"{plural(exploration.rounds, 'round')} of up to {ROUND_SIZE} examples on "
                               f"{plural(exploration.workers, 'worker')} (the result does not depend on how "
                               "many)"],
        ["search seed", f"{exploration.seed} (the same seed and budget try the same examples)"],
        ["simulations run", described],
        ["examples to the first failure", str(exploration.examples_to_failure or "-")],
    ]
    return Table(["search", "value"], rows)


def _no_counterexample(exploration: Exploration) -> str:
    """The verdict of a search that found nothing: examples stopped at the event budget were not
    judged, so they are not among those in which every invariant held."""
    judged = exploration.generated - exploration.over_budget
    if not exploration.over_budget:
        return f"No counterexample: every invariant held in all {plural(judged, 'generated example')}."
    return (f"No counterexample: every invariant held in the {plural(judged, 'judged example')}; "
            f"{plural(exploration.over_budget, 'example')} stopped at the event budget "
            f"{'was' if exploration.over_budget == 1 else 'were'} not judged.")


def _over_budget(exploration: Exploration) -> str:
    if exploration.max_events is None:
        return "none (no event budget)"
    return exploration.over_budget_note() or f"none (each may process {exploration.max_events:,} simulated events)"


def exploration_blocks(
    exploration: Exploration, figures: Sequence[RenderedFigure] = (), *, flow_saga: str | None = None,
    omitted: Sequence[tuple[str, str]] = (),
) -> list[Block]:
    """The exploration report's content; ``figures`` are the counterexample run's, ``flow_saga``
    the saga its message-flow figure draws, if known, and ``omitted`` the figures left out for
    having nothing to show."""
    base = exploration.base
    outcome = exploration.outcome
    example = exploration.counterexample
    blocks: list[Block] = [Heading(1, f"Exploration of {base.name}")]
    if example is None or outcome is None:
        never = exploration.never_judged()
        if not never:
            blocks.append(Verdict(True, _no_counterexample(exploration)))
        else:
            blocks += [
                Verdict(True, f"{_no_counterexample(exploration)} {plural(len(never), 'invariant')} not applicable "
                              f"in every example: {', '.join(never)}."),
                Paragraph("A promise no example could judge was neither kept nor broken by this search."),
                Table(["invariant", "verdict"], [[name, not_applicable_text(reason)] for name, reason in never.items()]),
            ]
        blocks.append(_search_table(exploration))
    else:
        by_name = {f.name: f for f in figures}
        hero = by_name.get(MESSAGE_FLOW) if flow_saga else None
        blocks += [
            *failure_summary(outcome, hero, schedule_label="the minimal fault schedule",
                             replay=f"concertsim replay {COUNTEREXAMPLE_FILE}"),
            Paragraph(f"Counterexample found: {', '.join(outcome.violated)} broken, by a schedule of "
                      f"{plural(len(example.faults), 'fault')} and {plural(example.workload.users, 'user')}."),
            _search_table(exploration),
            Heading(2, "Invariants broken"),
            invariant_table([v for v in outcome.verdicts if v.violated]),
            Heading(2, "The minimal fault schedule"),
            Paragraph(f"The counterexample has {plural(len(example.faults), 'fault')} and "
                      f"{plural(example.workload.users, 'user')} (seed {example.seed}). "
                      f"{shrinking_sentence(exploration)}"),
            *fault_blocks(example, "No fault at all: the design breaks the promise on its own."),
            Paragraph(minimality_sentence(exploration)),
            *deletion_pass_blocks(exploration),
            *replay_blocks(COUNTEREXAMPLE_FILE,
                           f"It replays exactly: every run gives trace SHA-256 {outcome.result.trace_sha256}."),
            Heading(2, "Why it breaks"),
            *violation_blocks(outcome, by_name.get, hero_saga=flow_saga if hero is not None else None),
        ]
    blocks += _probe_blocks(exploration)
    if example is None:
        blocks += [Heading(2, "Base scenario and design"), *scenario_blocks(base, base.seed)]
    else:
        blocks += [
            Heading(2, "The counterexample's scenario and design"),
            *scenario_blocks(example, example.seed),
        ]
        blocks += figure_blocks(blocks, figures, omitted)
    return blocks


def write_exploration_report(
    output: OutputDir, exploration: Exploration, *, figures: Sequence[RenderedFigure] | None = None
) -> None:
    """Write the report of an exploration: the minimal counterexample, why it breaks and its run's
    figures, or, for a search that found none, how much of the dangerous ground it covered.

    Without ``figures``, a counterexample's figures with something to show are rendered, its hero
    message flow drawing the saga of the first violation."""
    flow_saga = None
    omitted: list[tuple[str, str]] = []
    if figures is None:
        figures = []
        if exploration.outcome is not None:
            flow_saga = featured_saga(exploration.outcome)
            chosen = run_figures.run_figures(exploration.outcome, saga=flow_saga,
                                             extra_sagas=tuple(sagas_explained(exploration.outcome)))
            figures, omitted = chosen.rendered, chosen.omitted
    blocks = exploration_blocks(exploration, figures, flow_saga=flow_saga, omitted=omitted)
    write_report(output, blocks, f"concertsim exploration: {exploration.base.name}")
