"""``concertsim explore``: search fault schedules for a broken promise and shrink it."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from concertsim.checks.probes import PROBES
from concertsim.cli.app import (
    MAX_EXAMPLES,
    MAX_FAULTS,
    MAX_SEED,
    MAX_USERS,
    MAX_WORKERS,
    ConnectTimeoutOption,
    JsonOption,
    JunitOption,
    OutOption,
    QuietOption,
    ScenarioArg,
    SchedulerOption,
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
    scheduler_or_exit,
    given_files,
    staged_results,
    stderr,
    stdout,
)
from concertsim.cli.errors import EXIT_OK, EXIT_VIOLATION
from concertsim.cluster import (
    DEFAULT_CONNECT_TIMEOUT,
    SchedulerUnreachable,
)
from concertsim.exploration import (
    DEFAULT_MAX_EVENTS,
    DeterminismError,
    Exploration,
    SimulationCrash,
    explore,
)
from concertsim.reports.exports.junit import exploration_cases
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.loader import to_yaml
from concertsim.strategies import EXPLORATION_BASE, FAULT_KINDS

__all__ = ["explore_command", "kinds_or_exit", "SearchWatch"]

KindsOption = Annotated[
    Optional[str],
    typer.Option("--kinds", help=f"Comma-separated fault kinds to draw from (default: all of {', '.join(FAULT_KINDS)})."),
]


def kinds_or_exit(text: str | None) -> tuple[str, ...]:
    """The fault kinds ``--kinds`` names; exit 2 naming an unknown one and the closest known."""
    import difflib

    if text is None:
        return FAULT_KINDS
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        hints = []
        for kind in unknown:
            close = difflib.get_close_matches(kind, FAULT_KINDS, n=1)
            if close:
                hints.append(f"did you mean {close[0]!r} for {kind!r}?")
        raise bad_input(
            f"--kinds: unknown fault kind(s) {unknown}" + (f"; {' '.join(hints)}" if hints else "")
            + f"; known: {', '.join(FAULT_KINDS)}"
        )
    return kinds


class SearchWatch:
    """Follows an exploration through ``explore(on_run=...)``: feeds the progress display (with an
    estimated time to the end of the budget) and says how far it got if interrupted."""

    def __init__(self, examples: int, progress: Progress | None) -> None:
        self.examples = examples
        self.progress = progress
        self.task = progress.add_task("exploring", total=examples) if progress else None
        self.last: Exploration | None = None

    def __call__(self, report: Exploration) -> None:
        raise_if_interrupted()
        self.last = report
        if self.progress is None or self.task is None:
            return
        if report.examples_to_failure is None:
            self.progress.update(self.task, completed=min(report.generated, self.examples), description="exploring")
        else:
            self.progress.update(
                self.task, total=None, description=f"shrinking the failure of example {report.examples_to_failure} "
                f"(shrinking run {report.runs - report.search_runs})",
            )

    def how_far(self) -> str:
        """E.g. "after 75 examples (75 runs), no counterexample yet"."""
        report = self.last
        if report is None:
            return "before the first examples were judged"
        if report.examples_to_failure is None:
            return f"after {report.generated} examples ({report.runs} runs), no counterexample yet"
        return (
            f"after {report.generated} examples, while shrinking the counterexample found at example "
            f"{report.examples_to_failure} ({report.runs} runs); no counterexample was written"
        )


def _search_progress(enabled: bool) -> Any:
    return progress_display(
        enabled, TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("ETA"), TimeRemainingColumn(),
    )


@app.command(name="explore")
def explore_command(
    scenario: ScenarioArg = None,
    examples: Annotated[int, typer.Option("--examples", "-n", help="How many generated schedules to try.", min=1, max=MAX_EXAMPLES)] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the search itself (the same seed searches the same way).", min=0, max=MAX_SEED)] = 0,
    set_: SetOption = None,
    kinds: KindsOption = None,
    max_faults: Annotated[int, typer.Option("--max-faults", help="Most faults in one schedule.", min=0, max=MAX_FAULTS)] = 4,
    max_users: Annotated[int, typer.Option("--max-users", help="Most users in one example.", min=1, max=MAX_USERS)] = 30,
    max_events: Annotated[int, typer.Option(
        "--max-events", min=1, max=2**63 - 1,
        help="Simulated events one example may process before its faults heal; an example that needs more "
             "is stopped and counted as over budget (neither a pass nor a violation). One still busy after "
             "as many again since the heal has not settled (sagas-terminate).")] = DEFAULT_MAX_EVENTS,
    workers: Annotated[int, typer.Option("--workers", help="Search on this many local processes (the result is the same as with one).", min=1, max=MAX_WORKERS)] = 1,
    scheduler: SchedulerOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    out: OutOption = Path("concertsim-explore"),
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    junit: JunitOption = None,
) -> None:
    """Search fault schedules for a broken promise and shrink it to a minimal one.

    Each example varies SCENARIO (default: the built-in small-opening) with a drawn workload,
    seed and swarm-style fault schedule. On a violation, it is shrunk to fewer faults, fewer
    users, narrower filters, earlier and shorter faults until it is 1-minimal (removing any one
    fault, user or filter clause, or halving a fault's duration, makes it pass), the minimal case
    is run twice to check it replays exactly, and --out receives counterexample.yaml (replay it with `concertsim replay`),
    summary.json and the report. Also reports how often the search reached each dangerous
    situation (coverage probes).

    The search is a function of (SCENARIO, --seed, -n, --max-events, version): the same from a
    checkout or an installed copy, with one worker or many, and the examples of a smaller -n are
    the first ones of a larger -n (it runs in rounds of 25, each seeded from --seed and its index).
    --max-events is counted in simulated events, never in wall time, so which examples it stops
    does not depend on the machine either.

    Exit codes: 0 no counterexample within the budget; 1 a counterexample was found (or the
    simulation was not deterministic, or raised); 2 bad input (or an unreachable --scheduler);
    130 interrupted (says after how many examples; an earlier counterexample in --out is kept).
    """
    base = scenario_or_exit(scenario, set_, default=EXPLORATION_BASE)
    chosen = kinds_or_exit(kinds)
    junit = junit_or_exit(junit, out)
    address = scheduler_or_exit(scheduler)
    staged: StagedOutput | None = None
    with _search_progress(not (quiet or json_output) and stderr.is_terminal) as progress:
        watch = SearchWatch(examples, progress)
        try:
            with staged_results(out, inputs=given_files(scenario)) as staged:
                try:
                    found = explore(base, examples=examples, seed=seed, kinds=chosen, max_faults=max_faults,
                                    max_users=max_users, max_events=max_events, workers=workers, scheduler=address,
                                    connect_timeout=connect_timeout, on_run=watch)
                except DeterminismError as error:
                    stderr.print(f"[bold red]determinism check failed:[/bold red] {escape(str(error))}")
                    raise typer.Exit(EXIT_VIOLATION) from None
                except SchedulerUnreachable as error:
                    raise bad_input(f"--scheduler: {error}") from None
                except SimulationCrash as crash:
                    _report_crash(staged, crash)
                    raise typer.Exit(EXIT_VIOLATION) from None
                if progress is not None and watch.task is not None:
                    progress.update(watch.task, description="writing the results")
                _write_exploration(staged, found)
                staged.commit()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, watch.how_far()) from None
    summary = _exploration_summary(found)
    report_to_ci(junit, f"concertsim explore {base.name}", exploration_cases(
        found, f"concertsim.explore.{base.name}", shlex.join(["concertsim", "replay", str(out / "counterexample.yaml")])))
    if json_output:
        emit_json(summary)
    elif not quiet:
        _print_exploration(found, out)
    raise typer.Exit(EXIT_VIOLATION if found.found else EXIT_OK)


def _write_exploration(staged: StagedOutput, found: Exploration) -> None:
    from concertsim.reports.exploration.report import write_exploration_report

    output = staged.output
    assert output is not None
    output.write_json("summary.json", _exploration_summary(found))
    if found.counterexample is not None and found.outcome is not None:
        output.write_text("counterexample.yaml", to_yaml(found.counterexample, _counterexample_header(found)))
        output.write_bytes_with("trace.jsonl", found.outcome.result.trace.write_jsonl)
    write_exploration_report(output, found)


def _report_crash(staged: StagedOutput, crash: SimulationCrash) -> None:
    """A simulation that raised: keep the smallest scenario that does, and say so."""
    output = staged.output
    assert output is not None
    header = (f"The simulation raises on this scenario: {crash}\n"
              "Run it with `concertsim run crash.yaml` to see the traceback.")
    output.write_text("crash.yaml", to_yaml(crash.scenario, header))
    staged.commit()
    stderr.print(f"[bold red]the simulator failed:[/bold red] {escape(str(crash))}; the smallest scenario "
                 "that makes it fail is in crash.yaml", highlight=False)


def _exploration_summary(found: Exploration) -> dict[str, Any]:
    outcome = found.outcome
    minimization = found.minimization
    return {
        "base": found.base.name,
        "seed": found.seed,
        "workers": found.workers,
        "examples_requested": found.examples_requested,
        "examples_generated": found.generated,
        "examples_repeated": found.repeated,
        "example_numbers_left_empty": found.not_generated,
        "budget_note": found.budget_note(),
        "max_events": found.max_events,
        "examples_over_budget": found.over_budget,
        "rounds": found.rounds,
        "runs": found.runs,
        "shrink_runs": found.shrink_runs,
        "deletion_pass": None if minimization is None else {
            "removed": minimization.kept, "runs": minimization.runs,
            "reductions_checked": minimization.checked, "one_minimal": minimization.one_minimal,
        },
        "found": found.found,
        "examples_to_failure": found.examples_to_failure,
        "violated": outcome.violated if outcome else [],
        "counterexample": found.counterexample.model_dump(mode="json") if found.counterexample else None,
        "trace_sha256": outcome.result.trace_sha256 if outcome else None,
        "invariants": [v.to_json() for v in outcome.verdicts] if outcome else [],
        "not_applicable_examples": {name: found.not_applicable.get(name, 0) for name in found.invariants},
        "never_judged": found.never_judged(),
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
    if found.unreached_probes() and not found.found:
        stdout.print(
            "[yellow]Never reached:[/yellow] " + ", ".join(found.unreached_probes())
            + ". A green result that never reached a dangerous state proves little about it; "
            "try more --examples or --kinds aimed at it."
        )
    if not found.found:
        stdout.print(
            f"[green]no counterexample[/green] in {found.generated} example(s) "
            f"({found.runs} runs); results in {escape(str(out))}/", soft_wrap=True,
        )
        if found.budget_note():
            stdout.print(escape(found.budget_note()), highlight=False, soft_wrap=True)
        if found.over_budget_note():
            stdout.print(f"[yellow]{escape(found.over_budget_note())}[/yellow]", highlight=False, soft_wrap=True)
        never = found.never_judged()
        if never:
            stdout.print(f"[dim]not applicable in every example, so never judged: "
                         f"{escape('; '.join(f'{name} ({reason})' for name, reason in never.items()))}[/dim]",
                         highlight=False, soft_wrap=True)
        return
    assert found.outcome is not None and found.counterexample is not None
    if found.over_budget_note():
        stdout.print(f"[yellow]{escape(found.over_budget_note())}[/yellow]", highlight=False, soft_wrap=True)
    minimization = found.minimization
    minimal = "1-minimal" if minimization is not None and minimization.one_minimal else "not proven 1-minimal"
    stdout.print(
        f"[red]counterexample[/red] after {found.examples_to_failure} example(s), shrunk in "
        f"{found.shrink_runs} more runs to "
        f"{len(found.counterexample.faults)} fault(s), {found.counterexample.workload.users} user(s), "
        f"{minimal}:", soft_wrap=True,
    )
    for fault in found.counterexample.faults:
        stdout.print(f"  {escape(str(fault.model_dump(mode='json', exclude_defaults=True)))}", highlight=False)
    for verdict in found.outcome.verdicts:
        for violation in verdict.violations[:3]:
            stdout.print(f"  [red]{verdict.invariant.id}[/red]: {escape(violation.message)}", highlight=False)
    stdout.print(f"replay with: concertsim replay {escape(str(out))}/counterexample.yaml", highlight=False, soft_wrap=True)
