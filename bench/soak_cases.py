"""The cases of the command-line soak (``bench/soak_cli.py``, which runs them and says what it
covers): each a command line and what it must do, with the set-ups that make its conditions (an
earlier result, a read-only or tiny mount, a held lock, a file where a folder should be).

A case's ``args`` may use ``{dir}``, ``{out}`` and, for the scheduler cases, ``{http_port}`` and
``{greeting_port}``, which the runner fills in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from concertsim.reports.results.staging import StagedOutput  # noqa: E402

BROKEN = REPO / "tests" / "scenarios" / "broken"
PREVIOUS = "# the counterexample found yesterday\n"

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
