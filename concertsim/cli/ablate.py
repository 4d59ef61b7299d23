"""``concertsim ablate``: switch each safeguard off in turn and show which promise breaks."""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from concertsim.ablation import SAFEGUARDS, AblationRow, Safeguard, ablate
from concertsim.cli.app import (
    MAX_EXAMPLES,
    MAX_SEED,
    JsonOption,
    JunitOption,
    OutOption,
    QuietOption,
    ScenarioArg,
    SetOption,
    app,
    bad_input,
    emit_json,
    escape,
    interrupted,
    junit_or_exit,
    progress_display,
    raise_if_interrupted,
    report_to_ci,
    scenario_or_exit,
    given_files,
    staged_results,
    stderr,
    stdout,
)
from concertsim.cli.errors import EXIT_OK, EXIT_VIOLATION
from concertsim.reports.exports.junit import ablation_cases
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.loader import to_yaml

__all__ = ["ablate_command", "CellWatch"]

FLOWS = ("sync", "choreography", "orchestration")


class CellWatch:
    """Follows an ablation cell by cell (``ablate(on_row=...)``): the display names the cell being
    searched, and an interruption says which cells were done."""

    def __init__(self, safeguards: Sequence[Safeguard], flows: Sequence[str], progress: Progress | None) -> None:
        self.cells = [(s.name, f) for s in safeguards for f in flows if s.applies_to(f)]
        self.done = 0
        self.progress = progress
        self.task = progress.add_task(self._label(), total=len(self.cells)) if progress else None

    def _label(self) -> str:
        if self.done >= len(self.cells):
            return "writing the results"
        switch, flow = self.cells[self.done]
        return f"searching {switch.removeprefix('design.')} ({flow})"

    def skipped(self, safeguard: Safeguard, flow: str, reason: str) -> None:
        """A cell the base cannot carry: say so on stderr and count it done."""
        stderr.print(f"not searched: {escape(safeguard.name)} ({flow}): {escape(reason)}", highlight=False,
                     soft_wrap=True)
        self.done += 1
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, description=self._label())

    def __call__(self, row: AblationRow) -> None:
        raise_if_interrupted()
        self.done += 1
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, description=self._label())

    def how_far(self) -> str:
        """E.g. "after 3 of 16 cells, while searching compensation=false (sync)"."""
        where = f"after {self.done} of {len(self.cells)} cells"
        if self.done < len(self.cells):
            where += f", while {self._label()}"
        return where


def _flows_or_exit(text: str) -> tuple[str, ...]:
    chosen = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in chosen if f not in FLOWS]
    if not chosen or unknown:
        hints = [f"did you mean {c[0]!r}?" for f in unknown if (c := difflib.get_close_matches(f, FLOWS, n=1))]
        raise bad_input(
            f"--flows takes sync, choreography and/or orchestration, not {text!r}" + (f"; {' '.join(hints)}" if hints else "")
        )
    repeated = sorted({f for f in chosen if chosen.count(f) > 1})
    if repeated:
        raise bad_input(f"--flows {text!r} names {', '.join(repeated)} more than once: each flow's cells would run twice")
    return chosen


def _safeguards_or_exit(only: list[str] | None) -> list[Safeguard]:
    chosen = [s for s in SAFEGUARDS if not only or any(o in s.name for o in only)]
    if not chosen:
        names = [s.name.removeprefix("design.").partition("=")[0] for s in SAFEGUARDS]
        hints = [f"did you mean {c[0]!r}?" for o in only or () if (c := difflib.get_close_matches(o, names, n=1))]
        raise bad_input(
            f"--only {', '.join(only or [])} matches no safeguard" + (f"; {' '.join(hints)}" if hints else "")
            + f"; switches: {', '.join(s.name for s in SAFEGUARDS)}"
        )
    return chosen


@app.command(name="ablate")
def ablate_command(
    scenario: ScenarioArg = None,
    examples: Annotated[int, typer.Option("--examples", "-n", help="Most examples per safeguard and flow (each search stops at its first violation).", min=1, max=MAX_EXAMPLES)] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the searches.", min=0, max=MAX_SEED)] = 0,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", help="Only safeguards whose switch contains this text (repeatable), e.g. --only dedup."),
    ] = None,
    flows: Annotated[str, typer.Option("--flows", help="Comma-separated payment flows: sync, choreography, orchestration.")] = "sync,choreography",
    set_: SetOption = None,
    out: OutOption = Path("concertsim-ablate"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    junit: JunitOption = None,
) -> None:
    """Switch each safeguard of the design off in turn and show which promise breaks.

    For every safeguard (outbox, consumer de-duplication, compensation, idempotency keys, cancel
    tombstones, hold expiry, key partitioning, dead-letter topic) and payment flow, explores the
    design without it for a violation of what it protects, and prints the matrix: invariants
    broken, examples needed, faults in the minimal counterexample.

    Exit codes: 0 every result as the design documents; 1 a result differs from what the design
    documents: a safeguard whose absence broke nothing it protects, or one documented as
    redundant in a flow that turned out to be needed there; 2 bad input; 130 interrupted (says
    which cells were done; earlier results in --out are kept).
    """
    from concertsim.strategies import EXPLORATION_BASE

    base = scenario_or_exit(scenario, set_, default=EXPLORATION_BASE)
    chosen_flows = _flows_or_exit(flows)
    junit = junit_or_exit(junit, out)
    safeguards = _safeguards_or_exit(only)
    staged: StagedOutput | None = None
    display = progress_display(
        not (quiet or json_output) and stderr.is_terminal,
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("cells"), TimeElapsedColumn(),
    )
    with display as progress:
        watch = CellWatch(safeguards, chosen_flows, progress)
        try:
            with staged_results(out, inputs=given_files(scenario)) as staged:
                rows = ablate(base, flows=chosen_flows, safeguards=safeguards, examples=examples, seed=seed, on_row=watch,
                              on_skip=watch.skipped)
                _write_ablation(staged, base.name, examples, seed, rows)
                staged.commit()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, watch.how_far()) from None
    report_to_ci(junit, f"concertsim ablate {base.name}", ablation_cases(
        rows, "concertsim.ablate", lambda row: shlex.join(["concertsim", "replay", str(out / row.counterexample_file)])))
    if json_output:
        emit_json([_ablation_row_json(row) for row in rows])
    elif not quiet:
        _print_ablation(rows, out)
    raise typer.Exit(EXIT_OK if all(row.as_expected for row in rows) else EXIT_VIOLATION)


def _write_ablation(staged: StagedOutput, base: str, examples: int, seed: int, rows: list[AblationRow]) -> None:
    from concertsim.reports.ablation.report import write_ablation_report

    output = staged.output
    assert output is not None
    summary = [_ablation_row_json(row) for row in rows]
    output.write_json("summary.json", {"base": base, "examples": examples, "seed": seed, "rows": summary})
    for row in rows:
        if row.exploration.counterexample is not None:
            output.write_text(row.counterexample_file, to_yaml(row.exploration.counterexample, f"{row.safeguard.name} ({row.flow})"))
    write_ablation_report(output, rows)


def _ablation_row_json(row: AblationRow) -> dict[str, Any]:
    return {
        "switch": row.safeguard.switch,
        "name": row.safeguard.name,
        "flow": row.flow,
        "protects": list(row.safeguard.protects),
        "caught": row.caught,
        "redundant_in_this_flow": row.redundant,
        "as_expected": row.as_expected,
        "broken": row.broken,
        "never_judged": row.never_judged,
        "examples_to_failure": row.exploration.examples_to_failure,
        "runs": row.exploration.runs,
        "faults_in_minimal": row.faults_in_minimal,
        "minimal_faults": [f.model_dump(mode="json", exclude_defaults=True) for f in row.exploration.counterexample.faults]
        if row.exploration.counterexample else None,
    }


def _print_ablation(rows: list[AblationRow], out: Path) -> None:
    table = Table(title="Safeguard ablation: what breaks without each safeguard", title_justify="left")
    for column in ("switch off", "flow", "invariants broken", "examples", "faults", "minimal schedule"):
        table.add_column(column, overflow="fold")
    for row in rows:
        example = row.exploration.counterexample
        schedule = "; ".join(
            f"{f.kind} {f.target}" + (f" {f.match.message_type}" if f.match and f.match.message_type else "")
            for f in example.faults
        ) if example else ""
        if row.caught:
            broken = ", ".join(row.broken)
        elif row.redundant:
            broken = "nothing: redundant in this flow (documented)"
        elif row.never_judged:
            broken = f"[yellow]nothing it protects[/yellow] [dim](never judged: {', '.join(row.never_judged)})[/dim]"
        else:
            broken = "[yellow]nothing it protects[/yellow]"
        table.add_row(
            row.safeguard.name.removeprefix("design."), row.flow, broken,
            str(row.exploration.examples_to_failure or "-"),
            "-" if row.faults_in_minimal is None else str(row.faults_in_minimal),
            escape(schedule) or ("(no fault needed)" if example else "-"),
        )
    stdout.print(table)
    stdout.print(f"counterexamples and report in {escape(str(out))}/", highlight=False, soft_wrap=True)
