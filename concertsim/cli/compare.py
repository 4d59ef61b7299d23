"""``concertsim compare``: design A against design B over the same seeds, with statistics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer
from rich.table import Table

from concertsim.cli.app import (
    MAX_SEEDS,
    MAX_WORKERS,
    AllowLargeOption,
    ConnectTimeoutOption,
    JsonOption,
    JunitOption,
    OutOption,
    QuietOption,
    SchedulerOption,
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
from concertsim.comparison import (
    FAULT_POLICIES,
    Comparison,
    ComparisonError,
    plan_comparison,
    run_comparison,
)
from concertsim.reports.comparison.report import (
    invariant_significance,
    measure_significance,
    p_text,
    interval_text,
    rate_text,
    write_comparison_report,
)
from concertsim.reports.exports.junit import comparison_cases
from concertsim.reports.results.staging import StagedOutput
from concertsim.statistics import SIGNIFICANCE
from concertsim.sweep import SeedResult

__all__ = ["compare_command"]

SideOverrides = Optional[list[str]]


@app.command(name="compare")
def compare_command(
    a: Annotated[str, typer.Argument(metavar="A", help="Design A: a scenario YAML file or a built-in scenario name.", show_default=False)],
    b: Annotated[
        Optional[str],
        typer.Argument(metavar="B", help="Design B, likewise (default: A itself, varied by --set-b).", show_default=False),
    ] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="How many seeds each side runs: A's seed and the ones after it.", min=1, max=MAX_SEEDS)] = 10,
    set_: Annotated[
        SideOverrides,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a scenario field of both sides by its dotted path (repeatable)."),
    ] = None,
    set_a: Annotated[
        SideOverrides,
        typer.Option("--set-a", metavar="KEY=VALUE", help="Override a field of A only (repeatable)."),
    ] = None,
    set_b: Annotated[
        SideOverrides,
        typer.Option("--set-b", metavar="KEY=VALUE",
                     help="Override a field of B only (repeatable), e.g. --set-b design.publish=dual_write."),
    ] = None,
    faults: Annotated[
        str,
        typer.Option("--faults", metavar="a|b|own",
                     help="Which fault schedule the sides run: a (both run A's, the default), b (both run B's), "
                          "own (each its own: differences may then come from the faults)."),
    ] = "a",
    workers: Annotated[Optional[int], typer.Option("--workers", help="Local worker processes (default: one per core).", min=1, max=MAX_WORKERS)] = None,
    scheduler: SchedulerOption = None,
    connect_timeout: ConnectTimeoutOption = DEFAULT_CONNECT_TIMEOUT,
    out: OutOption = Path("concertsim-compare"),
    allow_large: AllowLargeOption = False,
    quiet: QuietOption = False,
    json_output: JsonOption = False,
    junit: JunitOption = None,
) -> None:
    """Compare design A with design B over the same seeds and fault schedule, with statistics.

    Both sides run A's seed and the --seeds - 1 after it, in parallel (a local process pool, or a
    Dask cluster with --scheduler). Per invariant: each side's violation rate with its Wilson 95%
    interval, and Fisher's exact test. Per headline measure (latency percentiles, throughput, time
    to convergence, messages per booking, the user funnel): each side's mean with its percentile
    bootstrap 95% interval (never outside what the measure can be), and the paired difference
    B - A with its interval and the Wilcoxon signed-rank test. Significant: p < 0.05; a ratio over
    fewer than 10 bookings per seed is not compared, and when a side books almost nothing the
    verdict rests on the invariants alone (it says so). Writes comparison.json, report.md and
    report.html.

    Example: concertsim compare ticket-opening --set-b design.publish=dual_write --seeds 10

    Exit codes: 0 neither side broke an invariant in any seed; 1 either side did (whether or not
    the difference is significant); 2 bad input (a scenario, an override, --faults, an override
    that could have no effect), an unwritable --out, or no scheduler answering; 130 interrupted
    (says how many runs finished; earlier results in --out are kept).
    """
    try:
        plan = plan_comparison(a, b, seeds=seeds, shared=set_ or (), only_a=set_a or (), only_b=set_b or (),
                               faults=_policy(faults))
    except ComparisonError as error:
        raise bad_input(str(error)) from None
    junit = junit_or_exit(junit, out)
    address = scheduler_or_exit(scheduler)
    announce = not (quiet or json_output)
    at_once = 1 if address is not None else min(seeds, workers or os.cpu_count() or 1)
    for side in (plan.a, plan.b):
        check_size(side.scenario, allow_large=allow_large, announce=announce and side.key == "a", at_once=at_once,
                   kept_runs=2 * seeds)
    finished = {"a": 0, "b": 0}
    staged: StagedOutput | None = None
    with progress_display(announce and stderr.is_terminal) as progress:
        task = progress.add_task(f"A: {escape(plan.a.label)}", total=2 * seeds) if progress else None

        def advance(key: Literal["a", "b"], result: SeedResult) -> None:
            raise_if_interrupted()
            finished[key] += 1
            if progress is not None and task is not None:
                side = plan.a if finished["a"] < seeds else plan.b
                progress.update(task, advance=1, description=f"{side.key.upper()}: {escape(side.label)}")

        try:
            with staged_results(out, inputs=given_files(a, b)) as staged:
                try:
                    comparison = run_comparison(plan, workers=workers, scheduler=address,
                                                connect_timeout=connect_timeout, on_result=advance)
                except SchedulerUnreachable as error:
                    raise bad_input(f"--scheduler: {error}") from None
                assert staged.output is not None
                write_comparison_report(staged.output, comparison)
                staged.commit()
        except KeyboardInterrupt as error:
            done = finished["a"] + finished["b"]
            raise interrupted(error, staged, f"after {done} of {2 * seeds} runs (A: {finished['a']} of {seeds} "
                                             f"seeds, B: {finished['b']} of {seeds})") from None
    report_to_ci(junit, f"concertsim compare {plan.a.label} vs {plan.b.label}",
                 comparison_cases(comparison, "concertsim.compare"))
    if json_output:
        emit_json(comparison.to_json())
    elif not quiet:
        _print_comparison(comparison, out)
    raise typer.Exit(EXIT_OK if comparison.holds else EXIT_VIOLATION)


def _policy(text: str) -> Literal["a", "b", "own"]:
    if text not in FAULT_POLICIES:
        raise bad_input(f"--faults takes a, b or own, not {text!r}")
    return text  # type: ignore[return-value]


def _print_comparison(comparison: Comparison, out: Path) -> None:
    plan = comparison.plan
    stdout.print(f"[bold]A[/bold] = {escape(plan.a.label)}", highlight=False, soft_wrap=True)
    stdout.print(f"[bold]B[/bold] = {escape(plan.b.label)}", highlight=False, soft_wrap=True)
    stdout.print(escape(f"{plan.seed_note} {plan.fault_note}"), highlight=False, soft_wrap=True)
    colour = "green" if comparison.holds else "red"
    stdout.print(f"[bold {colour}]{escape(comparison.verdict())}[/bold {colour}]", highlight=False, soft_wrap=True)
    stdout.print(escape(comparison.grounds()), highlight=False, soft_wrap=True)
    if (power := comparison.power_note()) is not None:
        stdout.print(f"[yellow]{escape(power)}[/yellow]", highlight=False, soft_wrap=True)

    broken = [i for i in comparison.invariants
              if (i.a is not None and i.a.broken_seeds) or (i.b is not None and i.b.broken_seeds)]
    if broken:
        table = Table(title="Invariants broken on either side: seeds that broke it · rate [95% CI]",
                      title_justify="left")
        for column in ("invariant", "A", "B", "p (Fisher)", "significant"):
            table.add_column(column, overflow="fold")
        for invariant in broken:
            mark = invariant_significance(invariant)
            table.add_row(invariant.id, escape(rate_text(invariant.a)), escape(rate_text(invariant.b)),
                          p_text(invariant.p_value), f"[bold]{escape(mark)}[/bold]" if invariant.significant else mark)
        stdout.print(table)
    else:
        judged = len(comparison.invariants) - sum(
            1 for i in comparison.invariants if all(side is None or not side.applicable for side in (i.a, i.b)))
        stdout.print(f"[green]Neither side broke any of the {judged} invariants judged "
                     f"in any of the {len(comparison.seeds)} seeds.[/green]", soft_wrap=True)
    unjudged = comparison.not_applicable()
    if unjudged:
        stdout.print("[dim]Not applicable (no seed could judge it): "
                     + escape("; ".join(f"{name} ({where})" for name, where in unjudged.items())) + "[/dim]",
                     highlight=False, soft_wrap=True)

    same = [m for m in comparison.measures
            if m.difference is not None and m.difference.estimate == 0 and m.difference.half_width == 0]
    differing = [m for m in comparison.measures if m not in same]
    thin = comparison.thin_sides() is not None
    if differing:
        table = Table(title=f"Measures: mean [95% interval]; significant: p < {SIGNIFICANCE:g}",
                      title_justify="left")
        for column in ("measure", "A", "B", "B − A per seed", "p", "significant"):
            table.add_column(column, overflow="fold")
        for measure in differing:
            kind = measure.kind
            title = f"{kind.title} ({kind.unit})" if kind.unit and kind.unit not in kind.title else kind.title
            mark = measure_significance(measure, thin)
            table.add_row(escape(title), escape(interval_text(measure.a)), escape(interval_text(measure.b)),
                          escape(interval_text(measure.difference, signed=True)),
                          p_text(measure.p_value if measure.difference else None),
                          f"[bold]{escape(mark)}[/bold]" if mark.startswith("yes") else mark)
        stdout.print(table)
    if same:
        stdout.print(escape(f"The same on both sides in every seed: {', '.join(m.kind.title for m in same)}."),
                     highlight=False, soft_wrap=True)
    stdout.print(f"report in {escape(str(out))}/report.html", highlight=False, soft_wrap=True)
