"""The ``concertsim`` command line. Thin: parse, call the library, print, exit.

Exit codes: 0 every invariant holds, 1 a violation or counterexample was found, 2 bad input.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from concertsim.ablation import SAFEGUARDS, AblationRow, ablate
from concertsim.api import RunOutcome, resolve_scenario
from concertsim.checks import check_run
from concertsim.checks.probes import PROBES
from concertsim.exploration import DeterminismError, Exploration, explore, run_twice
from concertsim.reports.console import print_run_summary
from concertsim.reports.outputs import OutputDir, OutputDirError
from concertsim.scenarios.loader import (
    ScenarioError,
    builtin_names,
    builtin_path,
    load_scenario,
    to_yaml,
)
from concertsim.scenarios.schema import Scenario
from concertsim.sim.runner import run_scenario
from concertsim.strategies import EXPLORATION_BASE, FAULT_KINDS
from concertsim.sweep import SeedResult, sweep as run_sweep

app = typer.Typer(
    name="concertsim",
    help=(
        "Simulate the concert-booking microservices design under failure and check that its "
        "sagas keep their promises.\n\n"
        "Start with [bold]concertsim run[/bold] (the built-in ticket opening) and open "
        "concertsim-out/report.html. [bold]concertsim scenarios[/bold] lists the scenario "
        "library; [bold]concertsim explore[/bold] searches fault schedules for a broken promise; "
        "[bold]concertsim ablate[/bold] shows which safeguard prevents which failure.\n\n"
        "Exit codes: 0 every invariant holds, 1 a violation or counterexample was found, "
        "2 bad input."
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
        "scenarios`).",
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
        "--set workload.users=50 --set 'faults=[{at: 10, kind: crash, target: point}]'. "
        "Repeatable.",
        metavar="KEY=VALUE",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable JSON summary on stdout (for CI).")
]

OutOption = Annotated[
    Path,
    typer.Option("--out", help="Output directory (created if missing; a previous concertsim run in it is replaced)."),
]


def _bad_input(message: str) -> typer.Exit:
    stderr.print(f"[bold red]error:[/bold red] {_escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def _scenario(spec: str | None, overrides: list[str] | None, default: str | None = None) -> Scenario:
    try:
        return resolve_scenario(spec if spec is not None else default, tuple(overrides or ()))
    except ScenarioError as error:
        raise _bad_input(str(error)) from None


def _prepare(out: Path) -> OutputDir:
    try:
        return OutputDir(out).prepare()
    except OutputDirError as error:
        raise _bad_input(str(error)) from None


def _progress(enabled: bool) -> Progress | nullcontext[None]:
    if not enabled:
        return nullcontext()
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=stderr, transient=True,
    )


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str) + "\n")


def _write_run_files(output: OutputDir, outcome: RunOutcome, trace_format: str) -> None:
    from concertsim.reports.report import write_run_report

    output.write_json("summary.json", outcome.summary())
    output.write_lines("trace.jsonl", outcome.result.trace.lines())
    if trace_format == "chrome":
        from concertsim.reports.chrome_trace import chrome_trace

        output.write_json("trace.chrome.json", chrome_trace(outcome.result))
    write_run_report(output, outcome)


# --- run and replay --------------------------------------------------------------------------------


@app.command()
def run(
    scenario: ScenarioArg = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-out"),
    trace_format: Annotated[
        str, typer.Option("--trace-format", help="Also write trace.chrome.json (opens in Perfetto) with 'chrome'.")
    ] = "jsonl",
    check_determinism: Annotated[
        bool, typer.Option("--check-determinism", help="Run twice and fail if the traces differ.")
    ] = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Run one scenario with one seed, check every invariant and write the results.

    Without SCENARIO, runs the built-in ticket-opening. Writes into --out: summary.json (scenario,
    seed, design, trace SHA-256, each invariant's verdict and violations, metrics), trace.jsonl
    (every call, commit, publish, delivery and fault), report.md, report.html and the figures.
    Exit code 1 if an invariant is violated.
    """
    if trace_format not in ("jsonl", "chrome"):
        raise _bad_input(f"--trace-format must be 'jsonl' or 'chrome', not {trace_format!r}")
    resolved = _scenario(scenario, [*(set_ or ()), *([f"seed={seed}"] if seed is not None else [])])
    output = _prepare(out)
    outcome = _simulate(resolved, check_determinism, announce=not (quiet or json_output))
    _write_run_files(output, outcome, trace_format)
    if json_output:
        _emit_json(outcome.summary())
    elif not quiet:
        print_run_summary(stdout, outcome, out)
    raise typer.Exit(EXIT_OK if outcome.holds else EXIT_VIOLATION)


def _simulate(scenario: Scenario, check_determinism: bool, announce: bool) -> RunOutcome:
    status = stderr.status(f"simulating {scenario.name} (seed {scenario.seed})")
    with status if announce else nullcontext():
        if check_determinism:
            try:
                return run_twice(scenario)
            except DeterminismError as error:
                stderr.print(f"[bold red]determinism check failed:[/bold red] {_escape(str(error))}")
                raise typer.Exit(EXIT_VIOLATION) from None
        result = run_scenario(scenario)
        return RunOutcome(result, check_run(result))


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="A scenario file, typically a counterexample.yaml written by explore.", show_default=False)],
    out: OutOption = Path("concertsim-replay"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Re-run a scenario file exactly and confirm it reproduces its recorded trace.

    A counterexample written by `explore` records the trace SHA-256 and the violated invariants
    under `expect:`; replay runs the same scenario and seed and says whether both match. Exit code
    1 if an invariant is violated (as a counterexample should be), or if the trace differs.
    """
    scenario = _scenario(str(file), None)
    output = _prepare(out)
    outcome = _simulate(scenario, check_determinism=False, announce=not (quiet or json_output))
    _write_run_files(output, outcome, "jsonl")
    expected = scenario.expect
    same_trace = expected is None or expected.trace_sha256 in (None, outcome.result.trace_sha256)
    same_verdict = expected is None or set(expected.violated) == set(outcome.violated)
    if json_output:
        _emit_json({**outcome.summary(), "reproduced": same_trace and same_verdict})
    elif not quiet:
        print_run_summary(stdout, outcome, out)
        if expected is not None and expected.trace_sha256:
            if same_trace:
                stdout.print(f"[green]reproduced exactly[/green]: trace sha256 {outcome.result.trace_sha256}")
            else:
                stdout.print(
                    f"[bold red]trace differs[/bold red]: expected {expected.trace_sha256}, "
                    f"got {outcome.result.trace_sha256}"
                )
    if not same_trace:
        raise typer.Exit(EXIT_VIOLATION)
    raise typer.Exit(EXIT_OK if outcome.holds else EXIT_VIOLATION)


# --- exploration -------------------------------------------------------------------------------------


KindsOption = Annotated[
    Optional[str],
    typer.Option("--kinds", help=f"Comma-separated fault kinds to draw from (default: all of {', '.join(FAULT_KINDS)})."),
]


def _kinds(text: str | None) -> tuple[str, ...]:
    if text is None:
        return FAULT_KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise _bad_input(f"--kinds: unknown fault kind(s) {unknown}; known: {list(FAULT_KINDS)}")
    return kinds


@app.command(name="explore")
def explore_command(
    scenario: ScenarioArg = None,
    examples: Annotated[int, typer.Option("--examples", "-n", help="How many generated schedules to try.", min=1)] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the search itself (the same seed searches the same way).", min=0)] = 0,
    set_: SetOption = None,
    kinds: KindsOption = None,
    max_faults: Annotated[int, typer.Option("--max-faults", help="Most faults in one schedule.", min=0)] = 4,
    max_users: Annotated[int, typer.Option("--max-users", help="Most users in one example.", min=1)] = 30,
    out: OutOption = Path("concertsim-explore"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Search fault schedules for a broken promise and shrink it to a minimal one.

    Each example varies SCENARIO (default: the built-in small-opening) with a drawn workload,
    seed and swarm-style fault schedule. On a violation, Hypothesis shrinks it to fewer faults,
    fewer users and earlier times, the minimal case is run twice to check it replays exactly, and
    --out receives counterexample.yaml (replay it with `concertsim replay`), summary.json and the
    report. Also reports how often the search reached each dangerous situation (coverage probes).
    Exit code 1 if a counterexample was found.
    """
    base = _scenario(scenario, set_, default=EXPLORATION_BASE)
    output = _prepare(out)
    chosen = _kinds(kinds)
    with _progress(not (quiet or json_output)) as progress:
        task = progress.add_task("exploring", total=examples) if progress else None

        def advance(report: Exploration) -> None:
            if progress is not None and task is not None:
                label = "shrinking" if report.examples_to_failure else "exploring"
                progress.update(task, completed=min(report.generated, examples), description=label)

        try:
            found = explore(base, examples=examples, seed=seed, kinds=chosen, max_faults=max_faults,
                            max_users=max_users, on_run=advance)
        except DeterminismError as error:
            stderr.print(f"[bold red]determinism check failed:[/bold red] {_escape(str(error))}")
            raise typer.Exit(EXIT_VIOLATION) from None
    summary = _exploration_summary(found)
    output.write_json("summary.json", summary)
    if found.counterexample is not None and found.outcome is not None:
        output.write_text("counterexample.yaml", to_yaml(found.counterexample, _counterexample_header(found)))
        output.write_lines("trace.jsonl", found.outcome.result.trace.lines())
    from concertsim.reports.report import write_exploration_report

    write_exploration_report(output, found)
    if json_output:
        _emit_json(summary)
    elif not quiet:
        _print_exploration(found, out)
    raise typer.Exit(EXIT_VIOLATION if found.found else EXIT_OK)


def _exploration_summary(found: Exploration) -> dict[str, Any]:
    outcome = found.outcome
    return {
        "base": found.base.name,
        "examples_requested": found.examples_requested,
        "examples_generated": found.generated,
        "runs": found.runs,
        "found": found.found,
        "examples_to_failure": found.examples_to_failure,
        "violated": outcome.violated if outcome else [],
        "counterexample": found.counterexample.model_dump(mode="json") if found.counterexample else None,
        "trace_sha256": outcome.result.trace_sha256 if outcome else None,
        "invariants": [v.to_json() for v in outcome.verdicts] if outcome else [],
        "probes": {name: found.probes.get(name, 0) for name in PROBES},
        "unreached_probes": found.unreached_probes(),
    }


def _counterexample_header(found: Exploration) -> str:
    assert found.outcome is not None and found.counterexample is not None
    first = next(v for verdict in found.outcome.verdicts for v in verdict.violations)
    return (
        f"Counterexample found by `concertsim explore` after {found.examples_to_failure} example(s),\n"
        f"shrunk to {len(found.counterexample.faults)} fault(s) and "
        f"{found.counterexample.workload.users} user(s).\n"
        f"Violated: {', '.join(found.outcome.violated)}\n"
        f"First violation: {first.message}\n"
        f"Replay: concertsim replay counterexample.yaml  (expects trace {found.outcome.result.trace_sha256[:16]}…)"
    )


def _print_exploration(found: Exploration, out: Path) -> None:
    probes = Table(title="Coverage probes (dangerous situations reached while exploring)", title_justify="left")
    probes.add_column("probe")
    probes.add_column("times reached", justify="right")
    for name in PROBES:
        count = found.probes.get(name, 0)
        probes.add_row(name, str(count) if count else "[yellow]never[/yellow]")
    stdout.print(probes)
    if found.unreached_probes():
        stdout.print(
            "[yellow]Never reached:[/yellow] " + ", ".join(found.unreached_probes())
            + ". A green result that never reached a dangerous state proves little about it; "
            "try more --examples or --kinds aimed at it."
        )
    if not found.found:
        stdout.print(
            f"[green]no counterexample[/green] in {found.generated} example(s) "
            f"({found.runs} runs); results in {out}/"
        )
        return
    assert found.outcome is not None and found.counterexample is not None
    stdout.print(
        f"[red]counterexample[/red] after {found.examples_to_failure} example(s), shrunk in "
        f"{found.runs - (found.examples_to_failure or 0)} more runs to "
        f"{len(found.counterexample.faults)} fault(s), {found.counterexample.workload.users} user(s):"
    )
    for fault in found.counterexample.faults:
        stdout.print(f"  {_escape(str(fault.model_dump(mode='json', exclude_defaults=True)))}", highlight=False)
    for verdict in found.outcome.verdicts:
        for violation in verdict.violations[:3]:
            stdout.print(f"  [red]{verdict.invariant.id}[/red]: {_escape(violation.message)}", highlight=False)
    stdout.print(f"replay with: concertsim replay {out}/counterexample.yaml")


# --- ablation ---------------------------------------------------------------------------------------


@app.command(name="ablate")
def ablate_command(
    scenario: ScenarioArg = None,
    examples: Annotated[int, typer.Option("--examples", "-n", help="Most examples per safeguard and flow (each search stops at its first violation).", min=1)] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the searches.", min=0)] = 0,
    only: Annotated[
        Optional[list[str]],
        typer.Option("--only", help="Only safeguards whose switch contains this text (repeatable), e.g. --only dedup."),
    ] = None,
    flows: Annotated[str, typer.Option("--flows", help="Comma-separated payment flows.")] = "sync,choreography",
    set_: SetOption = None,
    out: OutOption = Path("concertsim-ablate"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Switch each safeguard of the design off in turn and show which promise breaks.

    For every safeguard (outbox, consumer de-duplication, compensation, idempotency keys, cancel
    tombstones, hold expiry, key partitioning, dead-letter topic) and payment flow, explores the
    design without it for a violation of what it protects, and prints the matrix: invariants
    broken, examples needed, faults in the minimal counterexample. Exit code 1 if a result differs
    from what the design documents: a safeguard whose absence broke nothing it protects, or one
    documented as redundant in a flow that turned out to be needed there.
    """
    base = _scenario(scenario, set_, default=EXPLORATION_BASE)
    chosen_flows = tuple(f.strip() for f in flows.split(",") if f.strip())
    if not chosen_flows or any(f not in ("sync", "choreography") for f in chosen_flows):
        raise _bad_input(f"--flows takes sync and/or choreography, not {flows!r}")
    safeguards = [s for s in SAFEGUARDS if not only or any(o in s.switch for o in only)]
    if not safeguards:
        raise _bad_input(f"--only {only} matches no safeguard; switches: {[s.switch for s in SAFEGUARDS]}")
    output = _prepare(out)
    rows: list[AblationRow] = []
    with _progress(not (quiet or json_output)) as progress:
        task = progress.add_task("ablating", total=len(safeguards) * len(chosen_flows)) if progress else None

        def advance(row: AblationRow) -> None:
            if progress is not None and task is not None:
                progress.advance(task)

        rows = ablate(base, flows=chosen_flows, safeguards=safeguards, examples=examples, seed=seed, on_row=advance)
    summary = [_ablation_row_json(row) for row in rows]
    output.write_json("summary.json", {"base": base.name, "examples": examples, "seed": seed, "rows": summary})
    for row in rows:
        if row.exploration.counterexample is not None:
            name = f"counterexample-{row.safeguard.switch.removeprefix('design.').replace('=', '-')}-{row.flow}.yaml"
            output.write_text(name, to_yaml(row.exploration.counterexample, f"{row.safeguard.switch} ({row.flow})"))
    from concertsim.reports.report import write_ablation_report

    write_ablation_report(output, rows)
    if json_output:
        _emit_json(summary)
    elif not quiet:
        _print_ablation(rows, out)
    raise typer.Exit(EXIT_OK if all(row.as_expected for row in rows) else EXIT_VIOLATION)


def _ablation_row_json(row: AblationRow) -> dict[str, Any]:
    return {
        "switch": row.safeguard.switch,
        "flow": row.flow,
        "protects": list(row.safeguard.protects),
        "caught": row.caught,
        "redundant_in_this_flow": row.redundant,
        "as_expected": row.as_expected,
        "broken": row.broken,
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
        else:
            broken = "[yellow]nothing it protects[/yellow]"
        table.add_row(
            row.safeguard.switch.removeprefix("design."), row.flow, broken,
            str(row.exploration.examples_to_failure or "-"),
            "-" if row.faults_in_minimal is None else str(row.faults_in_minimal),
            schedule or ("(no fault needed)" if example else "-"),
        )
    stdout.print(table)
    stdout.print(f"counterexamples and report in {out}/")


# --- sweeps ----------------------------------------------------------------------------------------


@app.command(name="sweep")
def sweep_command(
    scenario: ScenarioArg = None,
    seeds: Annotated[int, typer.Option("--seeds", help="How many seeds to run (the scenario's seed and the ones after it).", min=1)] = 10,
    workers: Annotated[Optional[int], typer.Option("--workers", help="Local worker processes (default: one per core).", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Address of a Dask scheduler, e.g. tcp://10.0.0.5:8786, to run on a cluster.")] = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-sweep"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
) -> None:
    """Run one scenario over many seeds in parallel and aggregate the verdicts.

    Uses a local process pool, or a Dask distributed cluster with --scheduler. Writes
    summary.json (per invariant, the seeds that broke it; spread of confirmed reservations and of
    time to convergence; every seed's trace hash). Exit code 1 if any seed broke an invariant.
    """
    resolved = _scenario(scenario, set_)
    output = _prepare(out)
    seed_list = range(resolved.seed, resolved.seed + seeds)
    with _progress(not (quiet or json_output)) as progress:
        task = progress.add_task("sweeping", total=seeds) if progress else None

        def advance(_: SeedResult) -> None:
            if progress is not None and task is not None:
                progress.advance(task)

        try:
            result = run_sweep(resolved, seed_list, workers=workers, scheduler=scheduler, on_result=advance)
        except OSError as error:
            raise _bad_input(f"--scheduler {scheduler}: cannot connect ({error})") from None
    summary = result.to_json()
    output.write_json("summary.json", summary)
    if json_output:
        _emit_json(summary)
    elif not quiet:
        table = Table(title=f"{resolved.name}: {seeds} seeds", title_justify="left")
        table.add_column("invariant")
        table.add_column("seeds that broke it")
        for invariant, broken in summary["violations_by_invariant"].items():
            table.add_row(invariant, ", ".join(map(str, broken)))
        if not summary["violations_by_invariant"]:
            table.add_row("[green]all invariants[/green]", "[green]none[/green]")
        stdout.print(table)
        stdout.print(
            f"confirmed reservations {summary['confirmed']}; time to convergence "
            f"{summary['time_to_convergence']}; never converged: {summary['never_converged']}"
        )
    raise typer.Exit(EXIT_OK if result.holds else EXIT_VIOLATION)


# --- inspection -------------------------------------------------------------------------------------


@app.command()
def graph(
    scenario: ScenarioArg = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-graph"),
    json_output: JsonOption = False,
) -> None:
    """Analyse the architecture: synchronous call chains and their depth, each service's blast
    radius, synchronous cycles, events nobody consumes, subscriptions nobody feeds.

    Writes architecture.graphml (for Gephi, yEd, networkx) and architecture.png into --out.
    """
    from concertsim.reports.architecture import (
        analyze,
        architecture_figure_png,
        build_graph,
        format_text,
        write_graphml,
    )

    resolved = _scenario(scenario, set_)
    output = _prepare(out)
    report = analyze(resolved)
    output.write_bytes_with("architecture.graphml", lambda f: write_graphml(build_graph(resolved), f))
    output.write_bytes_with("architecture.png", lambda f: f.write(architecture_figure_png(resolved)))
    output.write_json("architecture.json", report.to_json())
    if json_output:
        _emit_json(report.to_json())
    else:
        sys.stdout.write(format_text(report) + "\n")
        sys.stdout.write(f"graph written to {out}/architecture.graphml and {out}/architecture.png\n")


@app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="The scenario YAML file to check.", show_default=False)],
    set_: SetOption = None,
) -> None:
    """Check a scenario file against the schema without running it (exit 2 if invalid)."""
    try:
        scenario = load_scenario(file, tuple(set_ or ()))
    except ScenarioError as error:
        raise _bad_input(str(error)) from None
    stdout.print(
        f"{file}: valid scenario [bold]{_escape(scenario.name)}[/bold] "
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
        stdout.print(f"[bold]{name:<24}[/bold] {_escape(described.description)}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
