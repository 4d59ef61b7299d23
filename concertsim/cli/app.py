"""The typer application and what its commands share: options, consoles, refusals, result
directories, size checks and progress displays.

Each command lives in its own module (``run``, ``replay``, ``explore``, ``ablate``, ``sweep``,
``inspect``) and registers itself on :data:`app`. Commands stay thin: parse, call the library,
print, exit with a code from :mod:`concertsim.cli.errors`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from types import FrameType
from typing import Annotated, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from concertsim.api import resolve_scenario
from concertsim.cli.errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    Terminated,
    exit_codes_help,
    printable,
)
from concertsim.cluster import SchedulerAddressError, scheduler_address
from concertsim.reports.results.directory import OutputDirError
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.loader import ScenarioError
from concertsim.scenarios.schema import Scenario
from concertsim.sim.run.cost import RunCost, RunTooLarge, refuse_if_too_large

__all__ = [
    "app",
    "main",
    "stdout",
    "stderr",
    "bad_input",
    "escape",
    "scenario_or_exit",
    "staged_results",
    "interrupted",
    "raise_if_interrupted",
    "check_size",
    "progress_display",
    "emit_json",
    "junit_or_exit",
    "MAX_SEED",
    "MAX_SEEDS",
    "MAX_EXAMPLES",
    "MAX_WORKERS",
    "MAX_FAULTS",
    "MAX_USERS",
    "given_files",
    "SchedulerOption",
    "scheduler_or_exit",
    "ConnectTimeoutOption",
    "report_to_ci",
]

app = typer.Typer(
    name="concertsim",
    help=(
        "Simulate the concert-booking microservices design under failure and check that its "
        "sagas keep their promises.\n\n"
        "Start with [bold]concertsim run[/bold] (the built-in ticket opening) and open "
        "concertsim-out/report.html. [bold]concertsim scenarios[/bold] lists the scenario "
        "library; [bold]concertsim explore[/bold] searches fault schedules for a broken promise; "
        "[bold]concertsim ablate[/bold] shows which safeguard prevents which failure.\n\n"
        "Results are written beside --out and swapped in only when complete: a failure or Ctrl-C "
        "never destroys an earlier result.\n\n" + exit_codes_help()
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

stdout = Console()
stderr = Console(stderr=True)

# --- bounds of the numeric options ---------------------------------------------------------------------------
# Every count a user types is bounded, so a typo is refused (exit 2) instead of overflowing a
# container or growing a command's bookkeeping without end.

MAX_SEED = 2**63 - 1
"""The largest seed (the scenario schema's bound on ``seed``)."""
MAX_SEEDS = 100_000
"""Most seeds per cell of a sweep, a comparison or a migration: each finished run is kept."""
MAX_EXAMPLES = 10_000_000
"""Most examples of one search."""
MAX_WORKERS = 1024
"""Most local worker processes."""
MAX_FAULTS = 1000
"""Most faults in one generated schedule."""
MAX_USERS = 1_000_000
"""Most users in one generated example (the scenario schema's bound on ``workload.users``)."""


# --- options shared by several commands --------------------------------------------------------------

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
    typer.Option("--seed", help="Root seed of the run (default: the scenario's `seed`).", min=0, max=MAX_SEED),
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
SchedulerOption = Annotated[
    Optional[str],
    typer.Option("--scheduler", help="Address of a Dask scheduler, e.g. tcp://10.0.0.5:8786, to run on a cluster."),
]
ConnectTimeoutOption = Annotated[
    float,
    typer.Option("--connect-timeout", metavar="SECONDS", help="How long to wait for the --scheduler to answer.",
                 min=0.1, max=3600),
]
JunitOption = Annotated[
    Optional[Path],
    typer.Option(
        "--junit", metavar="FILE",
        help="Also write the verdict as JUnit XML to FILE (a test case per invariant or cell), and "
        "append a Markdown verdict table to $GITHUB_STEP_SUMMARY when it is set.",
    ),
]
OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output directory. Written beside it and swapped in only when complete; an earlier "
        "concertsim result there is replaced, any other non-empty directory refused.",
    ),
]
AllowLargeOption = Annotated[
    bool,
    typer.Option(
        "--allow-large",
        help="Run even if the run is estimated to need more than 4 GiB of memory or more than "
        "the machine has available.",
    ),
]


# --- refusals and interruptions -------------------------------------------------------------------------


def escape(text: str) -> str:
    """``text`` made printable (:func:`printable`) and safe from rich markup."""
    return printable(text).replace("[", r"\[")


def bad_input(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr; return the exit (code 2) for the caller to raise."""
    stderr.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


def scenario_or_exit(spec: str | None, overrides: list[str] | None, default: str | None = None) -> Scenario:
    """The scenario ``spec`` names (a file or a built-in, ``default`` if None), or exit 2."""
    try:
        return resolve_scenario(spec if spec is not None else default, tuple(overrides or ()))
    except ScenarioError as error:
        raise bad_input(str(error)) from None


def given_files(*specs: str | None) -> tuple[Path, ...]:
    """The scenario arguments that name files (not built-in names): a command's inputs, which its
    ``--out`` may not hold (see :func:`staged_results`)."""
    return tuple(Path(spec) for spec in specs if spec is not None and Path(spec).is_file())


def _kept(staged: StagedOutput) -> str:
    if staged.replaces_previous:
        return f"{staged.shown} keeps its previous results"
    return f"nothing was written to {staged.shown}"


@contextmanager
def staged_results(out: Path, inputs: tuple[Path, ...] = ()) -> Iterator[StagedOutput]:
    """A result directory for ``out``, locked and checked now (before any simulation) and swapped
    in by ``commit()``. Leaving the block without a commit (an error, an exit, Ctrl-C) removes what
    was written and leaves ``out`` as it was; a write or swap failure is exit 2 saying so, and so
    is an ``out`` that another command is writing, that holds one of ``inputs`` (the files the
    command reads), or that ``$GITHUB_STEP_SUMMARY`` points into."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and _inside(Path(summary), out):
        raise bad_input(
            f"GITHUB_STEP_SUMMARY={summary}: lies inside --out {out}, which each run replaces whole; "
            "point it elsewhere"
        )
    staged = StagedOutput(out, inputs)
    try:
        staged.open()
    except OutputDirError as error:
        raise bad_input(str(error)) from None
    with staged:
        try:
            yield staged
        except OutputDirError as error:
            staged.discard()
            if error.file is not None:
                raise bad_input(
                    f"{out}: cannot write {error.file} ({error.reason}); {_kept(staged)}"
                ) from None
            raise bad_input(f"{error}; {_kept(staged)}") from None


def interrupted(error: KeyboardInterrupt, staged: StagedOutput | None, how_far: str) -> typer.Exit:
    """After Ctrl-C (or SIGTERM): say how far the command got ("interrupted after 40 examples")
    and that earlier results are kept; return the exit (130, or 143 for SIGTERM) for the caller to
    raise. Call it outside the ``staged_results`` block, which has removed the partial results."""
    word = "terminated" if isinstance(error, Terminated) else "interrupted"
    kept = f"; {_kept(staged)}" if staged is not None else ""
    stderr.print(f"[yellow]{word}[/yellow] {escape(how_far)}{escape(kept)}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED)


# --- size of a run -------------------------------------------------------------------------------------------


ANNOUNCE_SECONDS = 10.0
"""Runs estimated to take longer than this announce their estimate before starting."""


def check_size(
    scenario: Scenario, *, allow_large: bool, announce: bool, at_once: int = 1, trace_mode: str = "memory",
    kept_runs: int = 0,
) -> RunCost:
    """Estimate ``scenario``'s cost; refuse it (exit 2, with advice) above the memory limit unless
    ``allow_large``; announce the estimate on stderr for a long run. ``at_once`` runs share the
    machine's memory (a sweep's workers), beside the summaries of ``kept_runs`` finished runs."""
    streamed = trace_mode == "stream"
    try:
        cost = refuse_if_too_large(scenario, streamed=streamed, at_once=at_once, kept_runs=kept_runs)
        too_large = False
    except RunTooLarge as refusal:
        if not allow_large:
            raise bad_input(
                f"{refusal.name}: too large to run without --allow-large: {refusal.estimate}. "
                f"{'Fewer --seeds or cells, or l' if refusal.kept_runs and refusal.cost.memory_bytes * refusal.at_once < refusal.limit else 'L'}ower workload.users, raise rules.queue_capacity or "
                f"workload.poll_interval, lower workload.patience, "
                f"{'' if streamed else 'use --trace-mode stream (concertsim run), '}"
                "or pass --allow-large to run it anyway"
            ) from None
        cost, too_large = refusal.cost, True
    if announce and (cost.wall_seconds > ANNOUNCE_SECONDS or too_large):
        stderr.print(f"estimated: {escape(cost.describe())}", highlight=False, soft_wrap=True)
    return cost


# --- progress -------------------------------------------------------------------------------------------------


def progress_display(enabled: bool, *columns: ProgressColumn | str) -> Progress | nullcontext[None]:
    """A transient progress display on stderr (nothing when not ``enabled``)."""
    if not enabled:
        return nullcontext()
    shown = columns or (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*shown, console=stderr, transient=True)


def scheduler_or_exit(scheduler: str | None) -> str | None:
    """``--scheduler``'s address, checked (exit 2 if it is not one), or None to run locally."""
    if scheduler is None:
        return None
    try:
        return scheduler_address(scheduler)
    except SchedulerAddressError as error:
        raise bad_input(f"--scheduler: {error}") from None


def junit_or_exit(path: Path | None, out: Path | None = None) -> Path | None:
    """``--junit``'s file, refused (exit 2) before any work if its folder does not exist, it names
    a folder, it lies inside ``out`` (the result directory each run replaces whole: the verdict
    would be deleted, or make the directory foreign to the next run), or it is the file
    ``$GITHUB_STEP_SUMMARY`` names (the two would overwrite each other)."""
    if path is None:
        return None
    if out is not None and _inside(path, out):
        raise bad_input(f"--junit {path}: lies inside --out {out}, which each run replaces whole; write it elsewhere")
    if path.is_dir():
        raise bad_input(f"--junit {path}: is a directory; name a file")
    if not path.parent.is_dir():
        raise bad_input(f"--junit {path}: the folder {path.parent} does not exist")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and _same_file(path, Path(summary)):
        raise bad_input(f"--junit {path}: is the file GITHUB_STEP_SUMMARY names; choose another")
    return path


def _resolved(path: Path) -> Path:
    return Path(os.path.abspath(path)).resolve()


def _inside(path: Path, directory: Path) -> bool:
    """Whether ``path`` is ``directory`` or lies below it (links resolved)."""
    return _resolved(path).is_relative_to(_resolved(directory))


def _same_file(first: Path, second: Path) -> bool:
    return _resolved(first) == _resolved(second)


def report_to_ci(path: Path | None, suite: str, cases: list[Any]) -> None:
    """Write ``--junit``'s file and append to ``$GITHUB_STEP_SUMMARY``; exit 2 if either cannot
    be written (the results in --out are kept)."""
    from concertsim.reports.exports.junit import append_step_summary, write_junit

    try:
        if path is not None:
            write_junit(path, suite, cases)
        append_step_summary(suite, cases)
    except OSError as error:
        raise bad_input(f"cannot write the CI verdict: {error.strerror or error} ({error.filename or path})") from None


def emit_json(data: Any) -> None:
    """``data`` as one line of JSON on stdout."""
    sys.stdout.write(json.dumps(data, default=str) + "\n")


# --- entry point -------------------------------------------------------------------------------------------------


_pending_signal: int | None = None


def _interruption(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _on_signal(signum: int, frame: FrameType | None) -> NoReturn:
    global _pending_signal
    _pending_signal = signum
    raise _interruption(signum)


def raise_if_interrupted() -> None:
    """Raise the pending Ctrl-C or SIGTERM again. The commands' progress callbacks call this: an
    interruption that arrives while Python runs a garbage-collector callback (Hypothesis installs
    one) is printed as "Exception ignored" and lost, and the command would go on as if nothing
    had happened."""
    if _pending_signal is not None:
        raise _interruption(_pending_signal)


def _unraisable(hook: sys.UnraisableHookArgs) -> None:
    """Stay quiet about an interruption swallowed where it cannot propagate (it is raised again
    by :func:`raise_if_interrupted`); report anything else as Python would."""
    if isinstance(hook.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(hook)


def main() -> None:
    """Console-script entry point. SIGTERM is handled like Ctrl-C (same clean-up, exit 143)."""
    import concertsim.cli  # noqa: F401 - registers every command on the app

    signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)
    sys.unraisablehook = _unraisable
    try:
        app()
    except KeyboardInterrupt as error:  # past every command's own report (after its results, say)
        word = "terminated" if isinstance(error, Terminated) else "interrupted"
        stderr.print(f"[yellow]{word}[/yellow] after the command's last step; any results it wrote are "
                     "complete (they are swapped in whole or not at all)", highlight=False, soft_wrap=True)
        sys.exit(EXIT_TERMINATED if isinstance(error, Terminated) else EXIT_INTERRUPTED)
