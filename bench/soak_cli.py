"""Soak the command line with broken inputs and hostile conditions, and tabulate what it did.

Every command is run as a user would run it (``python -m concertsim.cli ...`` in a fresh
directory) against:

- the broken-scenario corpus (``tests/scenarios/broken/*.yaml``): each file through ``validate``,
  ``run`` and ``replay``, and through one of ``explore``, ``ablate``, ``sweep`` and ``graph`` in turn;
- bad options and arguments, bad scenario names and paths, bad ``--set`` overrides, bad scheduler
  addresses, a run too large to start;
- output directories that cannot be used: a file, a foreign directory, a broken link, the current
  directory, the root, ``/proc``, a read-only file system, a file system that fills up (tmpfs
  mounts need root; without it those cases are listed as skipped);
- interruptions: SIGINT and SIGTERM in the middle of ``run``, ``replay``, ``explore``, ``ablate`` and
  ``sweep``, each over an earlier result that must survive, and in the first instants of a command;
- paths that collide: an ``--out`` that holds the command's own input, two commands into one
  ``--out`` at once, ``--junit`` or ``GITHUB_STEP_SUMMARY`` inside ``--out`` or naming one file;
- numbers past their type: huge ``--seeds``, ``-n``, ``--seed``, rates and counts in a scenario;
- resources exhausted mid-way: a sweep's journal or a streamed trace's spill files on a file
  system that fills up (tmpfs, root only);
- guards that must hold in every entry point: the same refusals from ``concertsim.run`` and the
  pytest helper as from the command line;
- foreign listeners on a loopback port given as ``--scheduler``: a web server that waits for a
  request, a service that greets first.

For each case it prints a row: the input, the exit code (and the one expected), the first line of
the message, leftovers (hidden staging directories, half-written files, an output directory created
by a refused command, an earlier result lost) and whether a Python traceback appeared. The summary
counts the cases that did not behave as expected.

    python bench/soak_cli.py                 # all cases, two at a time
    python bench/soak_cli.py --jobs 1 --only corpus
    python bench/soak_cli.py --only collide --only numbers --only exhausted --only guards --only scheduler
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from soak_cases import (
    PREVIOUS, REPO, Case, collision_cases, corpus_cases, exhaustion_cases, guard_cases, interruption_cases,
    number_cases, option_cases, output_cases, scheduler_cases,
)

TRACEBACK = "Traceback (most recent call last)"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_BOX = str.maketrans("", "", "│╭╮╰╯─")


@dataclass
class Outcome:
    case: Case
    code: int | None
    message: str
    leftovers: list[str] = field(default_factory=list)
    caches: list[str] = field(default_factory=list)
    traceback: bool = False
    raw_control: bool = False
    skipped: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.skipped) or (
            self.code == self.case.expect and not self.leftovers and not self.traceback and not self.raw_control
            and bool(self.message)
        )



class _Listeners:
    """Two loopback listeners that are not Dask schedulers: a web server (answers only a request)
    and a service that greets every connection first, as SSH does."""

    def __init__(self) -> None:
        import socket
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        self.greeting = socket.create_server(("127.0.0.1", 0))
        self.greeting.settimeout(0.2)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self.http.serve_forever, daemon=True),
                         threading.Thread(target=self._greet, daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def ports(self) -> dict[str, str]:
        return {"{http_port}": str(self.http.server_address[1]), "{greeting_port}": str(self.greeting.getsockname()[1])}

    def _greet(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.greeting.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    def close(self) -> None:
        self._stop.set()
        self.http.shutdown()
        self.http.server_close()
        self.greeting.close()


_PLACEHOLDERS: dict[str, str] = {}
"""Values of the ``{http_port}``-style placeholders of the running soak."""


# --- running a case -----------------------------------------------------------------------------------------


def first_line(text: str) -> str:
    """The line that says what happened: the first error or interruption line, else the first
    line that is not usage help."""
    lines = [line.strip() for line in text.translate(_BOX).splitlines() if line.strip() and line.strip() != "Error"]
    for index, line in enumerate(lines):
        if line.startswith(("error:", "interrupted", "terminated", "trace differs", "Invalid", "No such", "Missing", "Got unexpected")):
            if line.endswith("invalid scenario") and index + 1 < len(lines):
                return f"{line} — {lines[index + 1]}"
            return line
    for line in lines:
        if not line.startswith(("Usage:", "Try ")):
            return line
    return ""


def leftovers(folder: Path, case: Case, out_existed: bool) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        name = path.name
        if name.endswith((".concertsim-new", ".concertsim-old")):
            found.append(f"staging dir {path.relative_to(folder)}")
        elif name.startswith(".") and name.endswith(".tmp"):
            found.append(f"half-written {path.relative_to(folder)}")
    out = folder / "out"
    if case.keeps_previous:
        survivor = out / "counterexample.yaml" if (out / "counterexample.yaml").exists() else folder / "tiny" / "out" / "counterexample.yaml"
        if not survivor.exists() or not survivor.read_text().startswith(PREVIOUS):
            found.append("earlier result lost")
    elif case.expect == 2 and not out_existed and (out.exists() or out.is_symlink()):
        found.append("out created by a refused command")
    return found


def caches(folder: Path) -> list[str]:
    """Caches a command left in its working directory (not results, but not the user's either)."""
    return [".hypothesis/"] if (folder / ".hypothesis").exists() else []


def run_case(case: Case, root: Path, index: int) -> Outcome:
    folder = root / f"{index:03d}"
    folder.mkdir()
    clean_up = None
    try:
        if case.setup is not None:
            try:
                clean_up = case.setup(folder)
            except PermissionError as error:
                return Outcome(case, None, "", skipped=str(error))
        out_existed = (folder / "out").exists() or (folder / "out").is_symlink()
        args = [_expand(a, folder) for a in case.args]
        started = time.monotonic()
        code, stdout, stderr = _execute(args, folder, case)
        seconds = time.monotonic() - started
        text = stderr + stdout
        return Outcome(
            case, code, first_line(stderr) or first_line(stdout), leftovers(folder, case, out_existed),
            caches(folder), TRACEBACK in text, bool(_CONTROL.search(text)), seconds=seconds,
        )
    finally:
        if clean_up is not None:
            clean_up()


def _expand(text: str, folder: Path) -> str:
    text = text.replace("{dir}", str(folder)).replace("{out}", str(folder / "out"))
    for placeholder, value in _PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text


def _execute(args: list[str], folder: Path, case: Case) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "COLUMNS": "200", **{name: _expand(value, folder) for name, value in case.env.items()}}
    command = ["-c", _expand(case.python, folder)] if case.python is not None else ["-m", "concertsim", *args]
    process = subprocess.Popen(
        [sys.executable, *command], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8", errors="replace", env=env,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    if case.interrupt is not None and case.interrupt_from_start:
        time.sleep(case.interrupt_after)
        process.send_signal(case.interrupt)
    elif case.interrupt is not None:
        target = folder / "out"
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if any(p.name.startswith(f".{target.name}.") for p in target.parent.iterdir()):
                time.sleep(case.interrupt_after)
                process.send_signal(case.interrupt)
                break
            time.sleep(0.05)
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout, stderr


# --- the table ---------------------------------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> str:
    rows = ["| input | exit (expected) | first line of the message | leftovers | traceback |", "|---|---|---|---|---|"]
    for o in outcomes:
        if o.skipped:
            rows.append(f"| {o.case.label} | skipped | {o.skipped} | - | - |")
            continue
        mark = "" if o.ok else " ✘"
        exit_text = f"{o.code}" + ("" if o.code == o.case.expect else f" ({o.case.expect})")
        message = o.message.replace("|", "\\|")
        message = message if len(message) <= 110 else message[:107] + "..."
        if o.raw_control:
            message += " [raw control characters in output]"
        rows.append(
            f"| {o.case.label.replace('|', chr(92) + '|')}{mark} | {exit_text} | {message} | "
            f"{', '.join(o.leftovers) or 'none'}{''.join(f' (cache {c})' for c in o.caches)} | "
            f"{'yes' if o.traceback else 'no'} |"
        )
    return "\n".join(rows)


def summary(outcomes: list[Outcome], seconds: float) -> str:
    ran = [o for o in outcomes if not o.skipped]
    by_group: dict[str, list[Outcome]] = {}
    for o in ran:
        by_group.setdefault(o.case.group, []).append(o)
    lines = [
        f"{len(outcomes)} cases ({len(ran)} run, {len(outcomes) - len(ran)} skipped) in {seconds:.0f} s:",
        *(f"  {group:<10} {len(items):>4} cases, {sum(o.ok for o in items):>4} as expected"
          for group, items in by_group.items()),
        "  exit codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(_count(o.code for o in ran).items())),
        f"  not as expected: {sum(not o.ok for o in ran)}; tracebacks: {sum(o.traceback for o in ran)}; "
        f"raw control characters: {sum(o.raw_control for o in ran)}; with leftovers: {sum(bool(o.leftovers) for o in ran)}; "
        f"empty messages: {sum(not o.message for o in ran)}",
        f"  caches left in the working directory: {sum(bool(o.caches) for o in ran)} "
        f"({', '.join(sorted({o.case.args[0] for o in ran if o.caches})) or 'none'})",
    ]
    return "\n".join(lines)


def _count(values: object) -> dict[int, int]:
    counts: dict[int, int] = {}
    for value in values:  # type: ignore[attr-defined]
        counts[value] = counts.get(value, 0) + 1
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (interruptions run alone)")
    parser.add_argument("--only", action="append", help="a group of cases (repeatable)",
                        choices=["corpus", "options", "out", "interrupt", "collide", "numbers", "exhausted", "guards",
                                 "scheduler"])
    options = parser.parse_args()
    cases = [*corpus_cases(), *option_cases(), *output_cases(), *interruption_cases(), *collision_cases(),
             *number_cases(), *exhaustion_cases(), *guard_cases(), *scheduler_cases()]
    if options.only:
        cases = [c for c in cases if c.group in options.only]
    root = Path(tempfile.mkdtemp(prefix="concertsim-soak-"))
    started = time.monotonic()
    listeners = _Listeners()
    _PLACEHOLDERS.update(listeners.ports)
    try:
        calm = [(i, c) for i, c in enumerate(cases) if c.interrupt is None]
        timed = [(i, c) for i, c in enumerate(cases) if c.interrupt is not None]
        results: dict[int, Outcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            for (i, _), outcome in zip(calm, pool.map(lambda pair: run_case(pair[1], root, pair[0]), calm)):
                results[i] = outcome
        for i, case in timed:
            results[i] = run_case(case, root, i)
        outcomes = [results[i] for i in range(len(cases))]
    finally:
        listeners.close()
        shutil.rmtree(root, ignore_errors=True)
    print(table(outcomes))
    print()
    print(summary(outcomes, time.monotonic() - started))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
