"""Commands that look at scenarios and the design without simulating them: ``graph``,
``validate``, ``schema`` and ``scenarios``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from concertsim.cli.app import (
    JsonOption,
    OutOption,
    ScenarioArg,
    SetOption,
    app,
    emit_json,
    escape,
    interrupted,
    scenario_or_exit,
    given_files,
    staged_results,
    stdout,
)
from concertsim.cli.errors import printable
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.loader import builtin_names, load_builtin
from concertsim.scenarios.schema import Scenario

__all__ = ["graph", "validate", "schema", "scenarios"]


@app.command()
def graph(
    scenario: ScenarioArg = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-graph"),
    json_output: JsonOption = False,
) -> None:
    """Analyse the architecture: call chains, blast radius, cycles, unconsumed events.

    Shows the synchronous call chains and their depth, each service's blast radius, synchronous
    cycles, events nobody consumes and subscriptions nobody feeds. Writes architecture.graphml (for Gephi, yEd, networkx) and architecture.png into --out.
    Exit codes: 0 written; 2 bad input or an unusable --out; 130 interrupted.
    """
    from concertsim.reports.architecture.analysis import analyze, build_graph, format_text, write_graphml
    from concertsim.reports.architecture.figure import architecture_figure_png

    resolved = scenario_or_exit(scenario, set_)
    staged: StagedOutput | None = None
    try:
        with staged_results(out, inputs=given_files(scenario)) as staged:
            report = analyze(resolved)
            output = staged.output
            assert output is not None
            output.write_bytes_with("architecture.graphml", lambda f: write_graphml(build_graph(resolved), f))
            output.write_bytes_with("architecture.png", lambda f: f.write(architecture_figure_png(resolved)))
            output.write_json("architecture.json", report.to_json())
            staged.commit()
    except KeyboardInterrupt as error:
        raise interrupted(error, staged, "while analysing the architecture") from None
    if json_output:
        emit_json(report.to_json())
    else:
        sys.stdout.write(format_text(report) + "\n")
        sys.stdout.write(f"graph written to {printable(str(out))}/architecture.graphml and {printable(str(out))}/architecture.png\n")


@app.command()
def validate(
    file: Annotated[
        str,
        typer.Argument(help="The scenario YAML file to check, or the name of a built-in scenario.", show_default=False),
    ],
    set_: SetOption = None,
) -> None:
    """Check a scenario file (or a built-in scenario) against the schema without running it.

    Exit codes: 0 valid; 2 invalid (the message names the file, the field and the reason).
    """
    scenario = scenario_or_exit(file, set_)
    stdout.print(
        f"{escape(file)}: valid scenario [bold]{escape(scenario.name)}[/bold] "
        f"({len(scenario.faults)} fault(s), {scenario.workload.users} users, "
        f"payment_flow={scenario.design.payment_flow})",
        highlight=False, soft_wrap=True,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files, for editors to validate and complete them."""
    sys.stdout.write(json.dumps(Scenario.model_json_schema(), indent=2) + "\n")


@app.command()
def scenarios() -> None:
    """List the built-in scenarios, one line each. Run one with `concertsim run NAME`."""
    for name in builtin_names():
        description = " ".join(load_builtin(name).description.split())
        if sys.stdout.isatty():
            stdout.print(f"[bold]{name:<24}[/bold] {escape(description)}", highlight=False)
        else:
            sys.stdout.write(f"{name:<24} {description}\n")
