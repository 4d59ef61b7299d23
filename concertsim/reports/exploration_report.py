"""The exploration report: the minimal counterexample a search found and why it breaks, or, for a
search that found none, how much of the dangerous ground it covered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from concertsim.checks.probes import PROBES
from concertsim.reports import figures as run_figures
from concertsim.reports.counterexample import (
    deletion_pass_blocks,
    minimality_sentence,
    replay_blocks,
    shrinking_sentence,
    simulations,
)
from concertsim.reports.document import Block, Heading, Paragraph, Table, Verdict
from concertsim.reports.figures import RenderedFigure
from concertsim.reports.outputs import OutputDir
from concertsim.reports.report_blocks import (
    MESSAGE_FLOW,
    fault_blocks,
    featured_saga,
    figure_blocks,
    invariant_table,
    plural,
    scenario_table,
    violation_blocks,
    write_report,
)

if TYPE_CHECKING:
    from concertsim.exploration import Exploration

__all__ = ["exploration_blocks", "write_exploration_report", "COUNTEREXAMPLE_FILE"]

COUNTEREXAMPLE_FILE = "counterexample.yaml"
"""Where ``concertsim explore`` writes the counterexample, beside the report."""

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


def _probe_blocks(exploration: Exploration) -> list[Block]:
    rows = []
    for name, probe in PROBES.items():
        meaning = PROBE_MEANING.get(name) or (probe.__doc__ or "").strip().split("\n")[0]
        count = exploration.probes.get(name, 0)
        rows.append([name, meaning, str(count) if count else "✘ never"])
    blocks: list[Block] = [
        Heading(2, "Coverage: did the search reach the dangerous states?"),
        Paragraph(f"How often the {plural(exploration.generated, 'generated example')} reached each "
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
        ["rounds and workers", f"{plural(exploration.rounds, 'round')} of up to {ROUND_SIZE} examples on "
                               f"{plural(exploration.workers, 'worker')} (the result does not depend on how "
                               "many)"],
        ["search seed", f"{exploration.seed} (the same seed and budget try the same examples)"],
        ["simulations run", described],
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
                          f"{plural(exploration.generated, 'generated example')}."),
            _search_table(exploration),
        ]
    else:
        first = next(v for verdict in outcome.verdicts for v in verdict.violations)
        flow = next((f for f in figures if f.name == MESSAGE_FLOW), None) if flow_saga else None
        blocks += [
            Verdict(False, f"Counterexample found: {', '.join(outcome.violated)} broken."),
            _search_table(exploration),
            Heading(2, "Invariants broken"),
            invariant_table([v for v in outcome.verdicts if not v.holds]),
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
            Paragraph(f"The first violation ({first.invariant}): {first.message.rstrip('.')}. Replay it "
                      f"with `concertsim replay {COUNTEREXAMPLE_FILE}`; each broken invariant follows, with the "
                      "saga that shows how."),
            *violation_blocks(outcome, flow, flow_saga),
        ]
    blocks += _probe_blocks(exploration)
    if example is None:
        blocks += [Heading(2, "Base scenario and design"), scenario_table(base, base.seed)]
    else:
        blocks += [
            Heading(2, "The counterexample's scenario and design"),
            scenario_table(example, example.seed),
        ]
        blocks += figure_blocks(blocks, figures)
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
            flow_saga = featured_saga(exploration.outcome)
            figures = run_figures.render_run_figures(exploration.outcome, saga=flow_saga)
    blocks = exploration_blocks(exploration, figures, flow_saga=flow_saga)
    write_report(output, blocks, f"concertsim exploration: {exploration.base.name}")

