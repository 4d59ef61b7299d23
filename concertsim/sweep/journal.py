"""The journal of a sweep: every finished run as one JSON line, written as it finishes, so that an
interrupted sweep loses only the runs in flight and can be resumed.

A sweep's results go to ``--out DIR`` as one complete set, swapped in only when the sweep is
done (:mod:`concertsim.reports.results.staging`): an interruption must not touch an earlier result in DIR.
So the journal of a sweep in progress lives beside DIR, in ``.DIR.concertsim-journal/``:

- ``sweep-plan.json``: the plan (:class:`~concertsim.sweep.grid.SweepPlan`) and its fingerprint,
  written before the first run;
- ``sweep.jsonl``: one line per finished run (:class:`~concertsim.sweep.grid.GridRun`), appended
  and flushed as each run finishes, in the order they finish.

When the sweep completes, both files go into DIR with its summary and report, and the journal
directory is removed. A journal with no run in it is removed on any exit. A journal is locked
while a sweep writes it, so two sweeps into one DIR cannot mix their runs; a process forked
meanwhile (a pool worker) lets go of the journal's file at once, so that the lock dies with the
sweep's own process even when its workers outlive it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from concertsim.held_locks import hold, let_go
from concertsim.sweep.grid import GridRun, SweepPlan

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS: no lock, the rest works
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Journal",
    "JournalError",
    "open_journal",
    "journal_directory",
    "read_journal",
    "JOURNAL_FILE",
    "PLAN_FILE",
    "JOURNAL_SUFFIX",
]

JOURNAL_FILE = "sweep.jsonl"
PLAN_FILE = "sweep-plan.json"
JOURNAL_SUFFIX = ".concertsim-journal"

class JournalError(Exception):
    """A journal that cannot be used: the message names the directory or file and the reason,
    and what to do."""


def journal_directory(out: Path) -> Path:
    """Where the unfinished sweep into ``out`` keeps its runs: ``.OUT.concertsim-journal`` beside
    ``out`` (its name cut to 200 characters)."""
    return out.parent / f".{out.name[:200]}{JOURNAL_SUFFIX}"


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _stored_plan(directory: Path) -> dict[str, Any] | None:
    """The plan stored in ``directory``, or None if it has none; :class:`JournalError` if it is
    not one."""
    path = directory / PLAN_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise JournalError(f"{path}: cannot be read ({_reason(error)})") from None
    try:
        plan = json.loads(text)
    except ValueError:
        plan = None
    if not isinstance(plan, dict) or not isinstance(plan.get("fingerprint"), str):
        raise JournalError(f"{path}: is not a sweep plan")
    return plan


def _check_same_sweep(stored: dict[str, Any], plan: SweepPlan, where: str, instead: str) -> None:
    """Refuse to resume a sweep of another plan: say what each one is, and ``instead``."""
    if stored["fingerprint"] == plan.fingerprint:
        return
    ran = str(stored.get("describe", "another sweep"))
    differs = (
        "this one's scenario differs (another scenario file, or other --set overrides)"
        if ran == plan.describe() else f"this one is {plan.describe()}"
    )
    raise JournalError(
        f"--resume: {where} is a sweep of {ran}; {differs}. Resume it with the same scenario, --set, "
        f"--matrix and --seeds, or {instead}"
    )


def read_journal(path: Path, plan: SweepPlan) -> tuple[list[GridRun], int]:
    """The runs in the journal file ``path`` that belong to ``plan`` (each cell and seed once, the
    first line kept), and the length in bytes of its complete lines.

    A last line without its newline is what a killed process left half-written: it is not
    counted (the caller may cut it off). Any other line that is not a run of ``plan`` is a
    :class:`JournalError` naming the file and the line.
    """
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise JournalError(f"{path}: cannot be read ({_reason(error)})") from None
    runs: list[GridRun] = []
    seen: set[tuple[str, int]] = set()
    complete = raw.rfind(b"\n") + 1
    seeds = set(plan.seeds)
    for number, line in enumerate(raw[:complete].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            run = GridRun.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as error:
            raise JournalError(f"{path}: line {number} is not a run of a sweep ({error}); start afresh with --restart") from None
        if plan.cell(run.cell_key) is None or run.result.seed not in seeds:
            raise JournalError(f"{path}: line {number} is a run of no cell and seed of this sweep; start afresh with --restart")
        if (run.cell_key, run.result.seed) not in seen:
            seen.add((run.cell_key, run.result.seed))
            runs.append(run)
    return runs, complete


class Journal:
    """The open journal of one sweep: :attr:`runs` holds the runs finished before this process
    (to be skipped), :meth:`append` records each new one. Use as a context manager: leaving it
    closes the file and releases the lock, and removes the journal if it holds no run."""

    def __init__(self, directory: Path, plan: SweepPlan, runs: list[GridRun], stream: IO[bytes], note: str = "",
                 shown: Path | None = None) -> None:
        self.directory = directory
        self.shown = shown or directory
        """The directory as messages name it (beside ``--out`` as the user gave it)."""
        self.plan = plan
        self.runs = runs
        self.note = note
        """What opening it found worth saying (``nothing to resume``), or empty."""
        self.recorded = len(runs)
        self._stream: IO[bytes] | None = stream

    @property
    def path(self) -> Path:
        return self.directory / JOURNAL_FILE

    def append(self, run: GridRun) -> None:
        """Write ``run`` as one line and flush it to the operating system, so a process killed
        after this call keeps it. Raises :class:`JournalError` if the write fails."""
        if self._stream is None:
            raise RuntimeError("the journal is closed")
        line = json.dumps(run.to_json(), sort_keys=True, separators=(",", ":")) + "\n"
        try:
            self._stream.write(line.encode("utf-8"))
            self._stream.flush()
        except OSError as error:
            raise JournalError(
                f"{self.path}: cannot write ({_reason(error)}); the {self.recorded} run(s) journaled so far are "
                "kept: make room and run the same command with --resume"
            ) from None
        self.recorded += 1

    def close(self) -> None:
        if self._stream is not None:
            _release(self._stream)
            self._stream = None

    def discard(self) -> None:
        """Close and remove the journal (its runs are in place elsewhere, or worth nothing)."""
        self.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self.recorded == 0:
            self.discard()
        else:
            self.close()


def _release(stream: IO[bytes]) -> None:
    """Close a journal's file (its lock goes with it). A line that could not be written (a full
    disk) was reported by :meth:`Journal.append` already; closing does not try it again."""
    let_go(stream.fileno())
    try:
        stream.close()
    except OSError:
        pass


def _lock(stream: IO[bytes], shown: Path) -> None:
    """Hold ``stream``'s file for this process (released when it is closed, or the process ends)."""
    if fcntl is None:
        return
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        stream.close()
        raise JournalError(f"{shown}: another concertsim sweep is writing into it right now") from None
    hold(stream.fileno())


def _write_plan(directory: Path, plan: SweepPlan) -> None:
    temporary = directory / f".{PLAN_FILE}.tmp"
    temporary.write_text(json.dumps(plan.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, directory / PLAN_FILE)


def _start(directory: Path, shown: Path, plan: SweepPlan, seeded: list[GridRun], note: str) -> Journal:
    """A new journal in ``directory`` (which must not exist) holding ``seeded``."""
    try:
        directory.mkdir()
        _write_plan(directory, plan)
        stream = (directory / JOURNAL_FILE).open("ab")
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise JournalError(f"{shown}: cannot keep the sweep's journal there ({_reason(error)}); choose another --out") from None
    _lock(stream, shown)
    journal = Journal(directory, plan, [], stream, note, shown)
    try:
        for run in seeded:
            journal.append(run)
    except JournalError:
        journal.discard()
        raise
    journal.runs = list(seeded)
    return journal


def _continue(directory: Path, shown: Path, plan: SweepPlan) -> Journal:
    """The journal in ``directory``, checked to be ``plan``'s, open for appending after its last
    complete line."""
    path = directory / JOURNAL_FILE
    try:
        stream = path.open("r+b") if path.exists() else path.open("a+b")
    except OSError as error:
        raise JournalError(f"{path}: cannot be opened ({_reason(error)})") from None
    _lock(stream, shown)
    try:
        stored = _stored_plan(directory)
        if stored is None:
            raise JournalError(f"{shown}: holds no {PLAN_FILE}, so it cannot be resumed; start afresh with --restart")
        _check_same_sweep(stored, plan, f"the interrupted sweep in {shown}", "discard it and start afresh with --restart")
        runs, complete = read_journal(path, plan)
        stream.truncate(complete)
        stream.seek(complete)
    except OSError as error:
        _release(stream)
        raise JournalError(f"{path}: cannot be resumed ({_reason(error)})") from None
    except JournalError:
        _release(stream)
        raise
    return Journal(directory, plan, runs, stream, "", shown)


def _busy(directory: Path, shown: Path) -> None:
    """Refuse if a sweep is writing the journal in ``directory`` right now."""
    if fcntl is None:
        return
    try:
        with (directory / JOURNAL_FILE).open("rb") as probe:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return
    except BlockingIOError:
        raise JournalError(f"{shown}: another concertsim sweep is writing into it right now") from None
    except OSError as error:
        raise JournalError(f"{shown}: cannot be read ({_reason(error)})") from None


def open_journal(out: Path, plan: SweepPlan, *, resume: bool = False, restart: bool = False,
                 shown: Path | None = None) -> Journal:
    """The journal of ``plan``'s sweep into ``out`` (:func:`journal_directory`); messages name
    ``out`` as ``shown`` (as the user gave it, where ``out`` is resolved).

    - An interrupted sweep's journal is there: with ``resume``, continue it (it must be the same
      sweep: same fingerprint); with ``restart``, discard it and start afresh; with neither,
      refuse, saying how many runs it holds and what to do.
    - None is there: start one. With ``resume``, a complete sweep already in ``out`` is taken up
      (all its runs are done: the sweep only writes its results again; it must be the same
      sweep), and with nothing to resume the sweep starts afresh; :attr:`Journal.note` says which.

    Raises :class:`JournalError` for each refusal, naming the directory and what to do.
    """
    if resume and restart:
        raise JournalError("--resume and --restart: give one or the other")
    shown = shown or out
    directory, shown_directory = journal_directory(out), journal_directory(shown)
    if directory.exists():
        _busy(directory, shown_directory)
        if resume:
            return _continue(directory, shown_directory, plan)
        if not restart:
            try:
                count = len(read_journal(directory / JOURNAL_FILE, plan)[0]) if (directory / JOURNAL_FILE).exists() else 0
                held = f"{count} finished run{'s' if count != 1 else ''}"
            except JournalError:
                held = "the finished runs of another sweep"
            raise JournalError(
                f"{shown}: an interrupted sweep keeps {held} in {shown_directory}; continue it with --resume, "
                "or discard it and start afresh with --restart"
            )
        shutil.rmtree(directory, ignore_errors=True)
    if not resume:
        return _start(directory, shown_directory, plan, [], "")
    stored = _stored_plan(out) if out.is_dir() else None
    if stored is None:
        return _start(directory, shown_directory, plan, [], f"nothing to resume in {shown}: starting the sweep afresh")
    _check_same_sweep(stored, plan, str(shown), "run it without --resume to replace it")
    runs, _ = read_journal(out / JOURNAL_FILE, plan) if (out / JOURNAL_FILE).exists() else ([], 0)
    note = f"{shown} holds this sweep complete: writing its results again" if len(runs) == plan.total_runs else ""
    return _start(directory, shown_directory, plan, runs, note)
