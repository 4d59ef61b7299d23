"""``concertsim replay``: re-run a scenario file and compare it with the recording it carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from concertsim.api import RunOutcome
from concertsim.cli.app import (
    AllowLargeOption,
    JsonOption,
    OutOption,
    QuietOption,
    app,
    check_size,
    emit_json,
    escape,
    interrupted,
    scenario_or_exit,
    given_files,
    staged_results,
    stderr,
    stdout,
)
from concertsim.cli.errors import EXIT_NOT_REPRODUCED, EXIT_OK, EXIT_VIOLATION
from concertsim.cli.run import RunWatch, run_progress, run_and_write
from concertsim.reports.run.console import print_run_summary
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.schema import Expectation

__all__ = ["replay", "Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """A replayed run against its recording (``expect:``). ``recorded`` is False for a file without
    one: then nothing was compared and ``reproduced`` is None."""

    recorded: bool
    same_trace: bool | None
    same_violations: bool
    expected_sha256: str | None
    expected_violated: tuple[str, ...]

    @property
    def reproduced(self) -> bool | None:
        if not self.recorded:
            return None
        return self.same_trace is not False and self.same_violations

    def to_json(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "reproduced": self.reproduced,
            "same_trace": self.same_trace,
            "same_violations": self.same_violations if self.recorded else None,
            "expected_trace_sha256": self.expected_sha256,
            "expected_violated": list(self.expected_violated),
        }


def compare(expected: Expectation | None, outcome: RunOutcome) -> Comparison:
    """Compare ``outcome`` with ``expected``: the trace hash if one was recorded, and the set of
    violated invariants."""
    if expected is None:
        return Comparison(False, None, True, None, ())
    same_trace = None if expected.trace_sha256 is None else expected.trace_sha256 == outcome.result.trace_sha256
    return Comparison(
        True, same_trace, set(expected.violated) == set(outcome.violated), expected.trace_sha256, expected.violated
    )


def _exit_code(comparison: Comparison, outcome: RunOutcome) -> int:
    if comparison.reproduced is False:
        return EXIT_NOT_REPRODUCED
    return EXIT_OK if outcome.holds else EXIT_VIOLATION


def _print_comparison(comparison: Comparison, outcome: RunOutcome, file: Path) -> None:
    actual = outcome.result.trace_sha256
    if not comparison.recorded:
        stdout.print(
            f"[yellow]nothing was checked against a recording[/yellow]: {escape(str(file))} has no expect: block "
            "(trace_sha256, violated); this was an ordinary run",
            highlight=False, soft_wrap=True,
        )
        return
    if comparison.same_trace is None:
        stdout.print("no trace hash recorded: only the violated invariants were compared", soft_wrap=True)
    elif comparison.same_trace:
        stdout.print(f"[green]same trace[/green]: sha256 {actual}", highlight=False, soft_wrap=True)
    else:
        stdout.print(
            f"[bold red]trace differs[/bold red]: recorded {comparison.expected_sha256}, got {actual}",
            highlight=False, soft_wrap=True,
        )
    expected = ", ".join(sorted(comparison.expected_violated)) or "none"
    got = ", ".join(sorted(outcome.violated)) or "none"
    if comparison.same_violations:
        stdout.print(f"[green]same violations[/green]: {expected}", highlight=False, soft_wrap=True)
    else:
        stdout.print(
            f"[bold red]violations differ[/bold red]: recorded {expected}, got {got}", highlight=False, soft_wrap=True
        )
    if comparison.reproduced:
        stdout.print("[green]reproduced exactly[/green]" if comparison.same_trace else "[green]reproduced[/green]")
    else:
        stdout.print("[bold red]not reproduced[/bold red] (exit code 3)")


@app.command()
def replay(
    file: Annotated[
        str,
        typer.Argument(
            help="A scenario file, typically a counterexample.yaml written by explore (or a built-in name).",
            show_default=False,
        ),
    ],
    out: OutOption = Path("concertsim-replay"),
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Re-run a scenario file exactly and compare it with the recording it carries.

    A counterexample written by `explore` records the trace SHA-256 and the violated invariants
    under `expect:`; replay runs the same scenario and seed and compares both. A file without
    `expect:` is run as `run` would, and replay says that nothing was checked against a recording.

    Exit codes: 0 the recording was reproduced and no invariant is violated; 1 the recording was
    reproduced and it violates invariants (a counterexample reproduced), or, without a
    recording, an invariant is violated; 2 bad input; 3 not reproduced: the trace hash or the set
    of violated invariants differs from the recording; 130 interrupted.
    """
    scenario = scenario_or_exit(file, None)
    announce = not (quiet or json_output)
    check_size(scenario, allow_large=allow_large, announce=announce)
    staged: StagedOutput | None = None
    with run_progress(announce and stderr.is_terminal) as progress:
        watch = RunWatch(scenario, progress)
        try:
            with staged_results(out, inputs=given_files(file)) as staged:
                outcome = run_and_write(scenario, staged, watch, check_determinism=False, trace_format="jsonl")
                staged.commit()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, watch.how_far()) from None
    comparison = compare(scenario.expect, outcome)
    if json_output:
        emit_json({**outcome.summary(), **comparison.to_json()})
    elif not quiet:
        print_run_summary(stdout, outcome, out)
        _print_comparison(comparison, outcome, Path(file))
    elif not comparison.recorded:
        stderr.print(
            f"note: nothing was checked against a recording ({escape(file)} has no expect: block)",
            highlight=False, soft_wrap=True,
        )
    raise typer.Exit(_exit_code(comparison, outcome))
