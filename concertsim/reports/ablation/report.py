"""The ablation report: each safeguard switched off in each payment flow, what broke without it,
how quickly the search found it, and its minimal counterexample."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from concertsim.reports.exploration.counterexample import minimality_cell, minimality_phrase, replay_blocks
from concertsim.reports.document.blocks import Block, Cell, CodeSpan, Heading, Link, Paragraph, Table, Verdict
from concertsim.reports.document.formatting import plural
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.document.fault_words import fault_blocks
from concertsim.reports.document.writing import write_report
from concertsim.scenarios.schema import Scenario

if TYPE_CHECKING:
    from concertsim.ablation import AblationRow

__all__ = ["ablation_blocks", "write_ablation_report", "counterexample_file"]


def counterexample_file(row: AblationRow) -> str:
    """The name ``concertsim ablate`` gives a row's counterexample file beside the report, e.g.
    ``counterexample-compensation-false-sync.yaml``."""
    return row.counterexample_file


def _schedule_text(example: Scenario | None) -> str:
    if example is None:
        return "-"
    if not example.faults:
        return "no fault needed"
    parts = []
    for fault in example.faults:
        text = f"{fault.kind} {fault.target} at {fault.at:g} s"
        if fault.match is not None and fault.match.message_type:
            text += f" ({fault.match.message_type})"
        parts.append(text)
    return "; ".join(parts)


def _matrix_text(row: AblationRow) -> str:
    found = row.exploration
    if row.caught:
        protected = [i for i in row.broken if i in row.safeguard.protects]
        examples = plural(found.examples_to_failure or 0, "example")
        faults = plural(row.faults_in_minimal or 0, "fault")
        mark = "✘ caught although documented redundant" if row.redundant else "✔ caught"
        return f"{mark}: {', '.join(protected)} after {examples}, {faults} in the minimum"
    if row.redundant:
        return f"✔ redundant here (documented): nothing broke in {plural(found.generated, 'example')}"
    if row.broken:
        return f"✘ not caught: broke only {', '.join(row.broken)}"
    if row.never_judged:
        return (f"✘ not caught in {plural(found.generated, 'example')}: no example could judge "
                f"{', '.join(row.never_judged)} (n/a in every one)")
    return f"✘ not caught in {plural(found.generated, 'example')}"


def _matrix_cell(row: AblationRow) -> Cell:
    """✔ when the result is what the design documents: the safeguard's absence broke what it
    protects, or, in a flow where it is documented redundant, nothing broke; then a link to its
    counterexample file and the command that replays it."""
    if row.exploration.counterexample is None:
        return _matrix_text(row)
    name = counterexample_file(row)
    return (_matrix_text(row), ". ", Link(name, "Counterexample"), ", replay: ",
            CodeSpan(f"concertsim replay {name}"))


def _file_cell(row: AblationRow) -> Cell:
    return Link(counterexample_file(row)) if row.exploration.counterexample is not None else "-"


def _ablation_row(row: AblationRow) -> list[Cell]:
    if row.caught:
        caught = "✘ yes, although documented redundant" if row.redundant else "✔ yes"
    else:
        caught = "✔ no, redundant here" if row.redundant else "✘ no"
    return [
        row.safeguard.name.removeprefix("design."), row.flow, ", ".join(row.broken) or "none", caught,
        str(row.exploration.examples_to_failure or "-"),
        "-" if row.faults_in_minimal is None else str(row.faults_in_minimal),
        _schedule_text(row.exploration.counterexample),
        minimality_cell(row.exploration),
        _file_cell(row),
    ]


def ablation_blocks(rows: Sequence[AblationRow]) -> list[Block]:
    expected = sum(1 for row in rows if row.as_expected)
    caught = sum(1 for row in rows if row.caught)
    redundant = sum(1 for row in rows if row.redundant and not row.caught)
    flows = list(dict.fromkeys(row.flow for row in rows))
    safeguards = list(dict.fromkeys(row.safeguard for row in rows))
    cells = {(row.safeguard, row.flow): row for row in rows}
    base = rows[0].exploration.base.name if rows else "-"
    headline = (f"{expected} of {len(rows)} results are as the design documents: {caught} ablated designs "
                f"broke the promise their safeguard protects")
    headline += f", {redundant} held where the safeguard is documented redundant." if redundant else "."
    blocks: list[Block] = [
        Heading(1, "Ablation: which safeguard prevents which failure"),
        Verdict(expected == len(rows) and bool(rows), headline),
        Paragraph(f"Each cell switches one safeguard off (base scenario {base}) and searches fault schedules "
                  "for a violation of what that safeguard protects. ✔ caught: the search found the broken "
                  "promise, and its minimal counterexample shows why the safeguard exists. ✔ redundant here: "
                  "another mechanism keeps the promise in that flow, as documented, and nothing broke. "
                  "✘ not caught: the search found nothing within its examples, so either the safeguard is "
                  "not needed in that flow or the search missed it. A 1-minimal counterexample breaks the "
                  "promise, and removing any one of its faults, users or filter clauses, or halving any "
                  "fault's duration, makes the run pass. Each counterexample file is beside this report; run "
                  "its replay command from this report's directory."),
        Heading(2, "The matrix: safeguard switched off × payment flow"),
        Table(["switched off", "seed", *flows],
              [[s.name.removeprefix("design."), s.seed_section,
                *(_matrix_cell(cells[s, f]) if (s, f) in cells else "-" for f in flows)]
               for s in safeguards]),
        Heading(2, "Every row"),
        Table(["switched off", "flow", "invariants broken", "what it protects caught", "examples needed",
               "faults in minimal", "minimal schedule", "1-minimal", "counterexample"],
              [_ablation_row(row) for row in rows]),
    ]
    unexpected = [row for row in rows if not row.as_expected]
    if unexpected:
        flows_of: dict[str, list[str]] = {}
        for row in unexpected:
            flows_of.setdefault(row.safeguard.name, []).append(row.flow)
        listed = "; ".join(f"{switch} ({', '.join(flows)})" for switch, flows in flows_of.items())
        blocks.append(Verdict(False, f"Not as documented: {listed}. Where nothing was caught, run more "
                                     "examples or check the safeguard is really needed there; where a "
                                     "redundant one was caught, the documentation is wrong."))
    blocks.append(Heading(2, "Why each safeguard exists"))
    for safeguard in safeguards:
        blocks += [
            Heading(3, safeguard.name),
            Paragraph(f"{safeguard.why} (design section {safeguard.seed_section})"),
            Table(["protects", "fault kinds searched", "searched with"],
                  [[", ".join(safeguard.protects), ", ".join(safeguard.kinds),
                    ", ".join(safeguard.setting) or "the base as it is"]]),
        ]
        if safeguard.redundant_in:
            blocks.append(Paragraph(f"Documented redundant in the {', '.join(safeguard.redundant_in)} flow: "
                                    f"{safeguard.redundancy}"))
        for flow in flows:
            cell = cells.get((safeguard, flow))
            if cell is None or cell.exploration.counterexample is None:
                continue
            example = cell.exploration.counterexample
            blocks += [
                Paragraph(f"Minimal counterexample with the {flow} flow "
                          f"({plural(example.workload.users, 'user')}), {minimality_phrase(cell.exploration)}:"),
                *fault_blocks(example, "No fault needed: the design without it breaks on its own."),
                *replay_blocks(counterexample_file(cell)),
            ]
    return blocks


def write_ablation_report(output: OutputDir, rows: Sequence[AblationRow]) -> None:
    """Write the ablation matrix (safeguard switched off × payment flow): what breaks without each
    safeguard, how quickly the search found it, its minimal counterexample, and where a safeguard
    is documented redundant."""
    write_report(output, ablation_blocks(list(rows)), "concertsim ablation")
