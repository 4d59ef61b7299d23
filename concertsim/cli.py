"""The ``concertsim`` command line. Thin: parse, call the library, print, exit.

Exit codes: 0 every invariant holds, 1 a violation or counterexample was found, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from concertsim.api import RunOutcome, resolve_scenario
from concertsim.checks import check_run
from concertsim.reports.console import print_run_summary
from concertsim.reports.outputs import OutputDir, OutputDirError
from concertsim.scenarios.loader import ScenarioError, builtin_names, builtin_path, load_scenario
from concertsim.scenarios.schema import Scenario
from concertsim.sim.runner import run_scenario

app = typer.Typer(
    name="concertsim",
    help=(
        "Simulate the concert-booking microservices design under failure and check that its "
        "sagas keep their promises.\n\n"
        "Start with [bold]concertsim run[/bold] (the built-in ticket opening), then try "
        "[bold]concertsim run --set design.publish=dual_write --set faults.0...[/bold] or "
        "[bold]concertsim scenarios[/bold] for the scenario library."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

stdout = Console()
stderr = Console(stderr=True)

EXIT_OK, EXIT_VIOLATION, EXIT_BAD_INPUT = 0, 1, 2

ScenarioArg = Annotated[
    Optional[str],
    typer.Argument(
        help="A scenario YAML file, or the name of a built-in scenario (see `concertsim "
        "scenarios`). Omitted: the built-in default, ticket-opening.",
        show_default=False,
    ),
]
SeedOption = Annotated[
    Optional[int],
    typer.Option("--seed", help="Root seed of the run (default: the scenario's `seed`).", min=0),
]
SetOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--set",
        help="Override a scenario field by its dotted path, e.g. --set design.publish=dual_write "
        "--set workload.users=50. Repeatable.",
        metavar="KEY=VALUE",
    ),
]
OutOption = Annotated[
    Path, typer.Option("--out", help="Directory for summary.json, trace.jsonl and the reports.")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON (for CI).")]


def _bad_input(message: str) -> typer.Exit:
    stderr.print(f"[bold red]error:[/bold red] {message}", highlight=False, markup=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _scenario(spec: str | None, overrides: list[str] | None) -> Scenario:
    try:
        return resolve_scenario(spec, tuple(overrides or ()))
    except ScenarioError as error:
        raise _bad_input(str(error).replace("[", r"\[")) from None


def _prepare(out: Path) -> OutputDir:
    try:
        return OutputDir(out).prepare()
    except OutputDirError as error:
        raise _bad_input(str(error)) from None


@app.command()
def run(
    scenario: ScenarioArg = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-out"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Run one scenario with one seed, check every invariant and write the results.

    Writes into --out: summary.json (scenario, seed, design, trace SHA-256, each invariant's
    verdict and violations, metrics) and trace.jsonl (every call, commit, publish, delivery and
    fault, one JSON record a line). Exit code 1 if an invariant is violated.
    """
    resolved = _scenario(scenario, set_)
    output = _prepare(out)
    shown_seed = seed if seed is not None else resolved.seed
    progress = stderr.status(f"simulating {resolved.name} (seed {shown_seed})")
    with progress if not (quiet or json_output) else nullcontext():
        result = run_scenario(resolved, seed)
        outcome = RunOutcome(result, check_run(result))
    summary = outcome.summary()
    output.write_json("summary.json", summary)
    output.write_lines("trace.jsonl", result.trace.lines())
    if json_output:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
    elif not quiet:
        print_run_summary(stdout, outcome, out)
    raise typer.Exit(EXIT_OK if outcome.holds else EXIT_VIOLATION)


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The scenario YAML file to check.", show_default=False)],
    set_: SetOption = None,
) -> None:
    """Check a scenario file against the schema without running it (exit 2 if invalid)."""
    try:
        scenario = load_scenario(file, tuple(set_ or ()))
    except ScenarioError as error:
        raise _bad_input(str(error).replace("[", r"\[")) from None
    stdout.print(
        f"{file}: valid scenario [bold]{scenario.name}[/bold] "
        f"({len(scenario.faults)} fault(s), {scenario.workload.users} users, "
        f"payment_flow={scenario.design.payment_flow})",
        highlight=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files, for editors to validate and complete them."""
    sys.stdout.write(json.dumps(Scenario.model_json_schema(), indent=2) + "\n")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios, one line each. Run one with `concertsim run NAME`."""
    for name in builtin_names():
        described = load_scenario(builtin_path(name))
        stdout.print(f"[bold]{name:<22}[/bold] {described.description}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
