"""``concertsim run``: one scenario, one seed, every invariant checked, the results written."""

from __future__ import annotations

import shlex
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from concertsim.api import RunOutcome, check_run_arguments
from concertsim.checks import check_run
from concertsim.cli.app import (
    AllowLargeOption,
    JsonOption,
    JunitOption,
    OutOption,
    QuietOption,
    ScenarioArg,
    SeedOption,
    SetOption,
    app,
    bad_input,
    check_size,
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
from concertsim.exploration import DeterminismError, run_twice
from concertsim.reports.run.console import print_run_summary
from concertsim.reports.exports.junit import run_cases
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.spilled_trace import TraceSpillError
from concertsim.sim.infrastructure.trace import TraceMode
from concertsim.sim.run.cost import chosen_trace_mode, estimate_run_cost, format_bytes, memory_limit, resident_memory
from concertsim.sim.run.runner import RunProgress, run_scenario

__all__ = ["run", "simulate", "write_run_files", "run_and_write", "run_progress", "RunWatch"]


class MemoryCeilingReached(Exception):
    """The run outgrew the memory it may take (its estimate was too low): stop it before the
    machine runs out."""

    def __init__(self, resident: int, ceiling: int) -> None:
        super().__init__(f"{format_bytes(resident)} resident, {format_bytes(ceiling)} allowed")
        self.resident = resident
        self.ceiling = ceiling


class RunWatch:
    """Follows a run's progress: feeds the progress display, says how far the run got if it is
    interrupted, and stops a run whose memory passes ``memory_ceiling`` (None: no ceiling)."""

    def __init__(self, scenario: Scenario, progress: Progress | None, memory_ceiling: int | None = None) -> None:
        self.scenario = scenario
        self.progress = progress
        self.memory_ceiling = memory_ceiling
        self.task = progress.add_task(f"simulating {escape(scenario.name)}", total=1.0, detail="") if progress else None
        self.last: RunProgress | None = None
        self.stage = "before the simulation started"

    def __call__(self, seen: RunProgress) -> None:
        raise_if_interrupted()
        self.last = seen
        self.stage = "simulating"
        if self.memory_ceiling is not None:
            resident = resident_memory()
            if resident is not None and resident > self.memory_ceiling:
                raise MemoryCeilingReached(resident, self.memory_ceiling)
        if self.progress is None or self.task is None:
            return
        users = f"{seen.users_arrived:,}" + (f"/{seen.users_expected:,}" if seen.users_expected else "") + " users"
        if seen.phase == "workload":
            self.progress.update(
                self.task, completed=seen.now / seen.phase_end, description=f"simulating {escape(self.scenario.name)}",
                detail=f"{seen.now:,.0f}/{seen.phase_end:,.0f} s simulated, {users}",
            )
        else:
            self.progress.update(
                self.task, completed=1.0, description="settling",
                detail=f"{seen.now:,.0f} s simulated (deadline {seen.phase_end:,.0f} s), {users}",
            )

    def say(self, stage: str, shown: str) -> None:
        """Enter ``stage`` (as :meth:`how_far` words it) and show ``shown`` on the display."""
        self.stage = stage
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, description=shown, detail="")

    def how_far(self) -> str:
        """Where the run was, e.g. "after 120 of 300 s of simulated workload (2,000 users)"."""
        if self.stage != "simulating" or self.last is None:
            return self.stage
        seen = self.last
        if seen.phase == "workload":
            return (
                f"after {seen.now:,.0f} of {seen.phase_end:,.0f} s of simulated workload "
                f"({seen.users_arrived:,} users arrived)"
            )
        return f"while settling, at {seen.now:,.0f} s of simulated time"


def run_progress(enabled: bool) -> Progress | nullcontext[None]:
    return progress_display(
        enabled, TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )


def simulate(
    scenario: Scenario, check_determinism: bool, watch: RunWatch, trace_mode: TraceMode = "memory"
) -> RunOutcome:
    """Run ``scenario`` (twice with ``check_determinism``) and check it; exit 1 if two runs differ."""
    if check_determinism:
        watch.say("while running twice to check determinism", f"simulating {escape(scenario.name)} twice")
        try:
            return run_twice(scenario, trace_mode)
        except DeterminismError as error:
            stderr.print(f"[bold red]determinism check failed:[/bold red] {escape(str(error))}")
            raise typer.Exit(EXIT_VIOLATION) from None
    result = run_scenario(scenario, on_progress=watch, trace_mode=trace_mode)
    watch.say("while checking the run", "checking the run")
    return RunOutcome(result, check_run(result))


def replay_command(scenario: str | None, overrides: list[str] | None, seed: int) -> str:
    """The command line that runs the same scenario with the same seed again."""
    words = ["concertsim", "run", *([scenario] if scenario else []), "--seed", str(seed)]
    for override in overrides or ():
        words += ["--set", override]
    return shlex.join(words)


def write_run_files(output: OutputDir, outcome: RunOutcome, trace_format: str) -> None:
    """``summary.json``, ``trace.jsonl`` (and ``trace.chrome.json``), the reports and figures."""
    from concertsim.reports.run.report import write_run_report

    output.write_json("summary.json", outcome.summary())
    output.write_bytes_with("trace.jsonl", outcome.result.trace.write_jsonl)
    if trace_format == "chrome":
        from concertsim.reports.exports.chrome_trace import chrome_trace

        output.write_json("trace.chrome.json", chrome_trace(outcome.result))
    elif trace_format == "otlp":
        from concertsim.reports.exports.otlp import otlp_trace

        output.write_json("trace.otlp.json", otlp_trace(outcome.result))
    write_run_report(output, outcome)


def run_and_write(
    scenario: Scenario, staged: StagedOutput, watch: RunWatch, *, check_determinism: bool, trace_format: str,
    trace_mode: TraceMode = "memory",
) -> RunOutcome:
    """Simulate, check and write into ``staged`` (not yet committed)."""
    outcome = simulate(scenario, check_determinism, watch, trace_mode)
    watch.say("while writing the results", "writing the results")
    assert staged.output is not None
    write_run_files(staged.output, outcome, trace_format)
    return outcome


@app.command()
def run(
    scenario: ScenarioArg = None,
    seed: SeedOption = None,
    set_: SetOption = None,
    out: OutOption = Path("concertsim-out"),
    trace_format: Annotated[
        str, typer.Option("--trace-format", help="Also write trace.chrome.json (opens in Perfetto) with 'chrome', or "
                          "trace.otlp.json (OpenTelemetry OTLP/JSON, one trace per saga) with 'otlp'.")
    ] = "jsonl",
    trace_mode: Annotated[
        str, typer.Option("--trace-mode", help="'memory' keeps the whole trace in memory; 'stream' writes "
                          "calls, commits and client operations to disk as they happen and reads them back "
                          "for the checks and reports: the same results in a fraction of the memory, more slowly; "
                          "'auto' streams a run estimated to need, with its trace in memory, more than a quarter of the "
                          "memory a run may take (4 GiB or the memory available, whichever is less).")
    ] = "auto",
    check_determinism: Annotated[
        bool,
        typer.Option("--check-determinism", help="Run twice; say so if the traces are the same, exit 1 if not."),
    ] = False,
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    junit: JunitOption = None,
) -> None:
    """Run one scenario with one seed, check every invariant and write the results.

    Without SCENARIO, runs the built-in ticket-opening. Writes into --out: summary.json (scenario,
    seed, design, trace SHA-256, each invariant's verdict and violations, metrics), trace.jsonl
    (every call, commit, publish, delivery and fault), report.md, report.html and the figures.
    A run estimated to need more than 4 GiB (or the memory available) is refused, and one that
    grows past that while it runs is stopped, unless --allow-large; --trace-mode stream needs
    about a third of the memory.

    Exit codes: 0 no invariant is violated (each one judged holds); 1 an invariant is violated (or, with
    --check-determinism, the two traces differ); 2 bad input or an unusable --out; 130
    interrupted (the previous results in --out are kept).
    """
    if trace_format not in ("jsonl", "chrome", "otlp"):
        raise bad_input(f"--trace-format must be 'jsonl', 'chrome' or 'otlp', not {trace_format!r}")
    try:
        check_run_arguments(seed, trace_mode)
    except ValueError as error:
        raise bad_input(f"--{error}".replace("trace_mode", "trace-mode", 1)) from None
    resolved = scenario_or_exit(scenario, [*(set_ or ()), *([f"seed={seed}"] if seed is not None else [])])
    junit = junit_or_exit(junit, out)
    announce = not (quiet or json_output)
    mode = chosen_trace_mode(resolved, trace_mode)
    check_size(resolved, allow_large=allow_large, announce=announce, trace_mode=mode)
    if announce and trace_mode == "auto" and mode == "stream":
        in_memory = estimate_run_cost(resolved).memory_bytes
        stderr.print(f"the trace is streamed to disk (--trace-mode auto): with it in memory the run is estimated to "
                     f"need {format_bytes(in_memory)}, more than a quarter of the {format_bytes(memory_limit())} a run "
                     "may take", highlight=False, soft_wrap=True)
    staged: StagedOutput | None = None
    with run_progress(announce and stderr.is_terminal) as progress:
        watch = RunWatch(resolved, progress, None if allow_large else memory_limit())
        try:
            with staged_results(out, inputs=given_files(scenario)) as staged:
                outcome = run_and_write(
                    resolved, staged, watch, check_determinism=check_determinism, trace_format=trace_format,
                    trace_mode=mode,
                )
                staged.commit()
                outcome.result.trace.close()
        except KeyboardInterrupt as error:
            raise interrupted(error, staged, watch.how_far()) from None
        except MemoryCeilingReached as reached:
            advice = "lower workload.users" if mode == "stream" else "use --trace-mode stream or lower workload.users"
            raise bad_input(
                f"{resolved.name}: stopped {watch.how_far()}: the run outgrew the memory it may take ({reached}: "
                f"4 GiB or the memory available, whichever is less), beyond its estimate; {advice}, or pass "
                "--allow-large to let it take more. Earlier results in --out are kept"
            ) from None
        except TraceSpillError as error:
            raise bad_input(f"{resolved.name}: stopped {watch.how_far()}: {error}. Earlier results in --out are kept") from None
    summary = outcome.summary()
    report_to_ci(junit, f"concertsim run {resolved.name}", run_cases(
        outcome, f"concertsim.run.{resolved.name}", replay_command(scenario, set_, outcome.result.seed)))
    if json_output:
        emit_json({**summary, "deterministic": True} if check_determinism else summary)
    elif not quiet:
        print_run_summary(stdout, outcome, out)
        if check_determinism:
            stdout.print(
                f"deterministic: same trace twice (sha {outcome.result.trace_sha256})", highlight=False, soft_wrap=True
            )
    raise typer.Exit(EXIT_OK if outcome.holds else EXIT_VIOLATION)
