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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from concertsim.reports.results.staging import StagedOutput  # noqa: E402

BROKEN = REPO / "tests" / "scenarios" / "broken"
PREVIOUS = "# the counterexample found yesterday\n"
TRACEBACK = "Traceback (most recent call last)"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_BOX = str.maketrans("", "", "│╭╮╰╯─")


@dataclass
class Case:
    """One command line and what it must do.

    ``args`` may use ``{dir}`` (the case's own directory) and ``{out}`` (its ``--out``);
    ``setup`` prepares the directory and may return a clean-up; ``interrupt`` sends that signal
    ``interrupt_after`` seconds after the command starts writing beside ``{out}``.
    """

    group: str
    label: str
    args: list[str]
    expect: int = 2
    setup: Callable[[Path], Callable[[], None] | None] | None = None
    interrupt: int | None = None
    interrupt_after: float = 1.0
    interrupt_from_start: bool = False
    """Send the signal ``interrupt_after`` seconds after the process starts (not after it starts
    writing): an interruption while the command line is still importing."""
    keeps_previous: bool = False
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables (``{dir}`` and ``{out}`` expanded)."""
    python: str | None = None
    """Instead of the command line, this Python code (``{dir}``, ``{out}`` expanded): a library
    entry point that must refuse as the command line does (exit 2 from the code's own handler)."""


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


# --- set-ups -------------------------------------------------------------------------------------------


def previous_result(folder: Path) -> Callable[[], None] | None:
    """An earlier result in ``out`` (a counterexample and its manifest) that must survive."""
    with StagedOutput(folder / "out") as staged:
        staged.open().write_text("counterexample.yaml", PREVIOUS)
        staged.commit()
    return None


def mount_tmpfs(where: Path, options: str) -> Callable[[], None]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        raise PermissionError(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    return lambda: subprocess.run(["umount", "-l", str(where)], capture_output=True) and None


def read_only_mount(folder: Path) -> Callable[[], None]:
    return mount_tmpfs(folder / "ro", "size=64k,ro")


def tiny_mount_with_previous(folder: Path) -> Callable[[], None]:
    clean_up = mount_tmpfs(folder / "tiny", "size=256k")
    with StagedOutput(folder / "tiny" / "out") as staged:
        staged.open().write_text("counterexample.yaml", PREVIOUS)
        staged.commit()
    return clean_up


def write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)

    return make


def expect_recording_that_differs(folder: Path) -> None:
    (folder / "tampered.yaml").write_text(
        "name: tampered\nworkload: {users: 5, duration: 30}\nconcerts: {dates: 1, seats_per_date: 5}\n"
        f"expect: {{trace_sha256: '{'0' * 64}'}}\n",
        encoding="utf-8",
    )


def fifo(folder: Path) -> None:
    os.mkfifo(folder / "pipe.yaml")


def foreign_directory(folder: Path) -> None:
    (folder / "out").mkdir()
    (folder / "out" / "thesis.tex").write_text("years of work")


def result_with_a_users_file(folder: Path) -> None:
    previous_result(folder)
    (folder / "out" / "notes.txt").write_text("mine")


def broken_link(folder: Path) -> None:
    (folder / "out").symlink_to(folder / "nowhere")


def a_file(folder: Path) -> None:
    (folder / "out").write_text("a file, not a directory")


def previous_result_with_its_scenario(folder: Path) -> None:
    """An earlier counterexample in ``out``, listed by its manifest, that a replay reads."""
    with StagedOutput(folder / "out") as staged:
        staged.open().write_text("counterexample.yaml", PREVIOUS + "name: found\nworkload: {users: 3, duration: 20}\n")
        staged.commit()


def lock_held(folder: Path) -> Callable[[], None]:
    """Another command writing ``out`` right now: its lock is held by this process."""
    from concertsim.reports.results.lock import OutputLock

    previous_result(folder)
    lock = OutputLock((folder / "out").resolve(), folder / "out")
    lock.acquire()
    return lock.release


def tiny_mount(folder: Path) -> Callable[[], None]:
    return mount_tmpfs(folder / "tiny", "size=160k")


def then(*steps: Callable[[Path], object]) -> Callable[[Path], None]:
    def run_all(folder: Path) -> None:
        for step in steps:
            step(folder)

    return run_all


# --- the cases ---------------------------------------------------------------------------------------------


def corpus_cases() -> list[Case]:
    cases = []
    others = [
        lambda p: ["explore", str(p), "-n", "5", "--out", "{out}"],
        lambda p: ["ablate", str(p), "-n", "5", "--only", "dedup", "--flows", "sync", "--out", "{out}"],
        lambda p: ["sweep", str(p), "--seeds", "2", "--workers", "1", "--out", "{out}"],
        lambda p: ["graph", str(p), "--out", "{out}"],
    ]
    for index, path in enumerate(sorted(BROKEN.glob("*.yaml"))):
        name = path.name
        cases.append(Case("corpus", f"validate {name}", ["validate", str(path)]))
        cases.append(Case("corpus", f"run {name}", ["run", str(path), "--out", "{out}"]))
        cases.append(Case("corpus", f"replay {name}", ["replay", str(path), "--out", "{out}"]))
        other = others[index % len(others)](path)
        cases.append(Case("corpus", f"{other[0]} {name}", other))
    return cases


def option_cases() -> list[Case]:
    small = "small-opening"
    return [
        Case("options", "validate nope.yaml (missing file)", ["validate", "nope.yaml"]),
        Case("options", "run ticket-openin (typo of a built-in)", ["run", "ticket-openin", "--out", "{out}"]),
        Case("options", "explore smal-opening (typo)", ["explore", "smal-opening", "--out", "{out}"]),
        Case("options", "run . (a directory as scenario)", ["run", ".", "--out", "{out}"]),
        Case("options", "validate /dev/zero", ["validate", "/dev/zero"]),
        Case("options", "validate a FIFO", ["validate", "{dir}/pipe.yaml"], setup=fifo),
        Case("options", "validate a 6 MB file", ["validate", "{dir}/huge.yaml"],
             setup=write("huge.yaml", "# " + "x" * 6_000_000 + "\nname: big\n")),
        Case("options", "validate 5000 nested lists", ["validate", "{dir}/deep.yaml"],
             setup=write("deep.yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n")),
        Case("options", "validate a file named with ESC", ["validate", "{dir}/bad\x1b[2Jname.yaml"]),
        Case("options", "run a scenario name of 300 characters", ["run", "s" * 300, "--out", "{out}"]),
        Case("options", "run --set workload.users=-5 (built-in)", ["run", small, "--set", "workload.users=-5", "--out", "{out}"]),
        Case("options", "run --set noequals", ["run", small, "--set", "noequals", "--out", "{out}"]),
        Case("options", "run --set faults=[meteor]", ["run", small, "--set", "faults=[{at: 1, kind: meteor, target: x}]", "--out", "{out}"]),
        Case("options", "run --set name=<RLO>", ["run", small, "--set", "name=pay\u202eexe.txt", "--out", "{out}"]),
        Case("options", "run --set name=<ESC>", ["run", small, "--set", "name=a\x1b[2Jb", "--out", "{out}"]),
        Case("options", "run --set name=x[/bold]y (rich markup)", ["run", small, "--set", "name=x[/bold]y",
                                                                   "--out", "{dir}/m[/]"], expect=0),
        Case("options", "run --set design={dup keys}", ["run", small, "--set", "design={publish: outbox, publish: dual_write}", "--out", "{out}"]),
        Case("options", "run --set workload.users=1000000", ["run", "--set", "workload.users=1000000", "--out", "{out}"]),
        Case("options", "sweep 1000000 users on 2 workers", ["sweep", "--set", "workload.users=1000000", "--workers", "2", "--out", "{out}"]),
        Case("options", "run --seed -1", ["run", small, "--seed", "-1", "--out", "{out}"]),
        Case("options", "run --seed 10**25", ["run", small, "--seed", "1" + "0" * 25, "--out", "{out}"]),
        Case("options", "run --trace-format xml", ["run", small, "--trace-format", "xml", "--out", "{out}"]),
        Case("options", "explore --kinds meteor", ["explore", "--kinds", "meteor", "--out", "{out}"]),
        Case("options", "explore --kinds crsh (typo)", ["explore", "--kinds", "crsh", "--out", "{out}"]),
        Case("options", "explore -n 0", ["explore", "-n", "0", "--out", "{out}"]),
        Case("options", "explore --max-faults -1", ["explore", "--max-faults", "-1", "--out", "{out}"]),
        Case("options", "ablate --only nosuch", ["ablate", "--only", "nosuch", "--out", "{out}"]),
        Case("options", "ablate --flows sideways", ["ablate", "--flows", "sideways", "--out", "{out}"]),
        Case("options", "sweep --seeds 0", ["sweep", small, "--seeds", "0", "--out", "{out}"]),
        Case("options", "sweep --workers 0", ["sweep", small, "--workers", "0", "--out", "{out}"]),
        Case("options", "sweep --scheduler notaurl", ["sweep", small, "--scheduler", "notaurl", "--out", "{out}"]),
        Case("options", "sweep --scheduler http://x:1", ["sweep", small, "--scheduler", "http://x:1", "--out", "{out}"]),
        Case("options", "sweep --scheduler tcp://host:99999", ["sweep", small, "--scheduler", "tcp://host:99999", "--out", "{out}"]),
        Case("options", "sweep --scheduler tcp://127.0.0.1:1 (nobody)",
             ["sweep", small, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1", "--out", "{out}"]),
        Case("options", "sweep --connect-timeout 0", ["sweep", small, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0", "--out", "{out}"]),
        Case("options", "frobnicate (unknown command)", ["frobnicate"]),
        Case("options", "run --frobnicate (unknown option)", ["run", "--frobnicate"]),
        Case("options", "validate (no argument)", ["validate"]),
        Case("options", "replay (no argument)", ["replay"]),
        Case("options", "replay a recording that differs", ["replay", "{dir}/tampered.yaml", "--out", "{out}"], expect=3,
             setup=expect_recording_that_differs),
    ]


def output_cases() -> list[Case]:
    run = ["run", "small-opening"]
    return [
        Case("out", "--out is a file", [*run, "--out", "{out}"], setup=a_file),
        Case("out", "--out holds someone else's files", [*run, "--out", "{out}"], setup=foreign_directory),
        Case("out", "--out result dir with a user's file", [*run, "--out", "{out}"], setup=result_with_a_users_file),
        Case("out", "--out is a broken link", [*run, "--out", "{out}"], setup=broken_link),
        Case("out", "--out '' (the current directory)", [*run, "--out", ""]),
        Case("out", "--out /", [*run, "--out", "/"]),
        Case("out", "--out /proc/concertsim", [*run, "--out", "/proc/concertsim"]),
        Case("out", "--out /dev/null", [*run, "--out", "/dev/null"]),
        Case("out", "--out under a file", [*run, "--out", "{dir}/file/out"], setup=write("file", "x")),
        Case("out", "--out name of 300 characters", [*run, "--out", "{dir}/" + "n" * 300]),
        Case("out", "--out on a read-only file system", [*run, "--out", "{dir}/ro/out"], setup=read_only_mount),
        Case("out", "graph --out on a read-only file system", ["graph", "--out", "{dir}/ro/out"], setup=read_only_mount),
        Case("out", "explore --out on a read-only file system", ["explore", "-n", "5", "--out", "{dir}/ro/out"], setup=read_only_mount),
        Case("out", "--out fills a 256 kB file system", [*run, "--out", "{dir}/tiny/out"], setup=tiny_mount_with_previous,
             keeps_previous=True),
    ]


def interruption_cases() -> list[Case]:
    return [
        Case("interrupt", "SIGINT run (2,000 users)", ["run", "ticket-opening", "--set", "workload.users=2000", "--out", "{out}"],
             expect=130, setup=previous_result, interrupt=signal.SIGINT, keeps_previous=True),
        Case("interrupt", "SIGINT replay (2,000 users)", ["replay", "{dir}/big.yaml", "--out", "{out}"], expect=130,
             setup=then(previous_result, write("big.yaml", "name: big\nworkload: {users: 2000}\n")),
             interrupt=signal.SIGINT, keeps_previous=True),
        Case("interrupt", "SIGINT explore", ["explore", "-n", "1000000", "--out", "{out}"], expect=130,
             setup=previous_result, interrupt=signal.SIGINT, interrupt_after=3.0, keeps_previous=True),
        Case("interrupt", "SIGINT ablate", ["ablate", "-n", "1000000", "--out", "{out}"], expect=130,
             setup=previous_result, interrupt=signal.SIGINT, interrupt_after=3.0, keeps_previous=True),
        Case("interrupt", "SIGINT sweep (2 workers)", ["sweep", "small-opening", "--seeds", "1000", "--workers", "2", "--out", "{out}"],
             expect=130, setup=previous_result, interrupt=signal.SIGINT, interrupt_after=2.0, keeps_previous=True),
        Case("interrupt", "SIGTERM run (2,000 users)", ["run", "ticket-opening", "--set", "workload.users=2000", "--out", "{out}"],
             expect=143, setup=previous_result, interrupt=signal.SIGTERM, keeps_previous=True),
        Case("interrupt", "SIGTERM explore", ["explore", "-n", "1000000", "--out", "{out}"], expect=143,
             setup=previous_result, interrupt=signal.SIGTERM, interrupt_after=2.0, keeps_previous=True),
    ]


def collision_cases() -> list[Case]:
    small = ["small-opening", "--set", "workload.users=3", "--set", "workload.duration=20"]
    return [
        Case("collide", "replay OUT/counterexample.yaml --out OUT", ["replay", "{out}/counterexample.yaml", "--out", "{out}"],
             setup=previous_result_with_its_scenario, keeps_previous=True),
        Case("collide", "run into an --out another command is writing", ["run", *small, "--out", "{out}"],
             setup=lock_held, keeps_previous=True),
        Case("collide", "explore into an --out another command is writing", ["explore", "-n", "3", "--out", "{out}"],
             setup=lock_held, keeps_previous=True),
        Case("collide", "run --junit OUT/summary.json --out OUT", ["run", *small, "--junit", "{out}/summary.json", "--out", "{out}"],
             setup=previous_result, keeps_previous=True),
        Case("collide", "run --junit OUT/verdict.xml --out OUT", ["run", *small, "--junit", "{out}/verdict.xml", "--out", "{out}"],
             setup=previous_result, keeps_previous=True),
        Case("collide", "run --junit F with GITHUB_STEP_SUMMARY=F", ["run", *small, "--junit", "{dir}/ci.xml", "--out", "{out}"],
             env={"GITHUB_STEP_SUMMARY": "{dir}/ci.xml"}),
        Case("collide", "run with GITHUB_STEP_SUMMARY inside --out", ["run", *small, "--out", "{out}"],
             env={"GITHUB_STEP_SUMMARY": "{out}/summary.md"}, setup=previous_result, keeps_previous=True),
    ]


def number_cases() -> list[Case]:
    huge = "99999999999999999999"
    small = "small-opening"
    return [
        Case("numbers", "sweep --seeds 10**20", ["sweep", small, "--seeds", huge, "--out", "{out}"]),
        Case("numbers", "compare --seeds 10**20", ["compare", small, "--set-b", "design.compensation=false", "--seeds", huge, "--out", "{out}"]),
        Case("numbers", "migrate --seeds 10**20", ["migrate", small, "--seeds", huge, "--out", "{out}"]),
        Case("numbers", "explore -n 10**20", ["explore", "-n", huge, "--out", "{out}"]),
        Case("numbers", "explore --workers 10**20", ["explore", "--workers", huge, "--out", "{out}"]),
        Case("numbers", "run steady-state rate_per_second=1e308", ["run", "steady-state", "--set", "workload.rate_per_second=1e308", "--out", "{out}"]),
        Case("numbers", "validate steady-state rate_per_second=1e308", ["validate", "steady-state", "--set", "workload.rate_per_second=1e308"]),
        Case("numbers", "run initial_points=10**20", ["run", small, "--set", f"workload.initial_points={huge}", "--out", "{out}"]),
        Case("numbers", "run a fault param of 1e308", ["run", small, "--set", "faults=[{at: 0, kind: slow, target: point, params: {factor: 1e308}}]", "--out", "{out}"]),
        Case("numbers", "run a fault count of 10**20", ["run", small, "--set", f"faults=[{{at: 0, kind: drop, target: request, match: {{count: {huge}}}}}]", "--out", "{out}"]),
        Case("numbers", "run a fault after the workload ends", ["run", small, "--set", "faults=[{at: 500, kind: crash, target: point}]", "--out", "{out}"]),
        Case("numbers", "run a sale opening after the workload ends", ["run", small, "--set", "concerts.opens_at=500", "--out", "{out}"]),
    ]


def exhaustion_cases() -> list[Case]:
    return [
        Case("exhausted", "sweep whose journal fills a 160 kB file system",
             ["sweep", "small-opening", "--seeds", "400", "--workers", "1", "--out", "{dir}/tiny/out"], setup=tiny_mount),
        Case("exhausted", "streamed run whose spill files fill TMPDIR (160 kB)",
             ["run", "small-opening", "--trace-mode", "stream", "--out", "{out}"], setup=tiny_mount,
             env={"TMPDIR": "{dir}/tiny"}),
    ]


_REFUSES = (
    "import sys\n"
    "from concertsim.sim.run.cost import RunTooLarge\n"
    "try:\n"
    "    {call}\n"
    "except (ValueError, RunTooLarge) as refusal:\n"
    "    print('error:', refusal, file=sys.stderr); sys.exit(2)\n"
)


def guard_cases() -> list[Case]:
    def code(call: str) -> str:
        return _REFUSES.replace("{call}", call)

    million = "overrides=['workload.users=1000000']"
    return [
        Case("guards", "concertsim.run 1,000,000 users", [], python=code(f"import concertsim; concertsim.run('small-opening', {million})")),
        Case("guards", "pytest helper 1,000,000 users", [],
             python=code(f"from concertsim.testing import assert_holds; assert_holds('small-opening', {million})")),
        Case("guards", "concertsim.run trace_mode='streem'", [], python=code("import concertsim; concertsim.run('small-opening', trace_mode='streem')")),
        Case("guards", "concertsim.run seed=1.5", [], python=code("import concertsim; concertsim.run('small-opening', seed=1.5)")),
        Case("guards", "pytest helper seed=1.5", [], python=code("from concertsim.testing import assert_holds; assert_holds('small-opening', seed=1.5)")),
        Case("guards", "SIGINT 0.3 s after explore starts", ["explore", "-n", "50", "--out", "{out}"], expect=130,
             interrupt=signal.SIGINT, interrupt_after=0.3, interrupt_from_start=True),
        Case("guards", "SIGINT 1 s after explore starts", ["explore", "-n", "50", "--out", "{out}"], expect=130,
             interrupt=signal.SIGINT, interrupt_after=1.0, interrupt_from_start=True),
    ]


def scheduler_cases() -> list[Case]:
    return [
        Case("scheduler", "sweep --scheduler at a web server (loopback)",
             ["sweep", "small-opening", "--seeds", "1", "--scheduler", "tcp://127.0.0.1:{http_port}", "--connect-timeout", "2", "--out", "{out}"]),
        Case("scheduler", "explore --scheduler at a web server (loopback)",
             ["explore", "-n", "5", "--scheduler", "tcp://127.0.0.1:{http_port}", "--connect-timeout", "2", "--out", "{out}"]),
        Case("scheduler", "sweep --scheduler at a greeting service (loopback)",
             ["sweep", "small-opening", "--seeds", "1", "--scheduler", "tcp://127.0.0.1:{greeting_port}", "--connect-timeout", "2", "--out", "{out}"]),
        Case("scheduler", "compare --scheduler at a greeting service (loopback)",
             ["compare", "small-opening", "--set-b", "design.compensation=false", "--seeds", "1", "--scheduler",
              "tcp://127.0.0.1:{greeting_port}", "--connect-timeout", "2", "--out", "{out}"]),
    ]


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
        f"  exit codes: " + ", ".join(f"{code}: {n}" for code, n in sorted(_count(o.code for o in ran).items())),
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
