"""The command line's contract (ARCHITECTURE.md, "CLI contract"): exit codes 0/1/2/3/130, bad input
and unusable environments refused with a message and no traceback, results swapped in only when
complete so that no failure or interruption loses an earlier result.

In-process cases run through typer's CliRunner; Ctrl-C is sent as a real SIGINT to a real
``python -m concertsim.cli`` process.
"""

from __future__ import annotations

import ast
import errno
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import yaml
from rich.console import Console
from rich.progress import Progress

import concertsim.cli.run as run_module
from concertsim.ablation import SAFEGUARDS
from concertsim.checks import check_run
from concertsim.cli.ablate import CellWatch
from concertsim.cli.errors import EXIT_CODES, printable
from concertsim.cli.explore import SearchWatch
from concertsim.exploration import Exploration
from concertsim.reports.results.directory import OutputDir
from concertsim.reports.results.staging import StagedOutput
from concertsim.scenarios.loader import builtin_names, builtin_path, load_builtin
from concertsim.sim.run.runner import run_scenario
from tests.cli.invoking import cli, flat, refused
from tests.mounts import read_only_directory, tmpfs

REPO = Path(__file__).resolve().parents[2]
SMALL = "small-opening"


def previous_result(out: Path) -> None:
    """An earlier result in ``out`` that must survive: a counterexample and its manifest."""
    with StagedOutput(out) as staged:
        staged.open().write_text("counterexample.yaml", "# the counterexample found yesterday\n")
        staged.commit()


def assert_previous_result_intact(out: Path) -> None:
    assert (out / "counterexample.yaml").read_text() == "# the counterexample found yesterday\n"
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")) == [], "leftovers"


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if a command simulates (for refusals that must come before the run)."""

    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the run started before the refusal")

    monkeypatch.setattr(run_module, "run_scenario", forbidden)


# --- --out: unwritable, full, re-used ----------------------------------------------------------------


def test_an_unwritable_out_is_refused_before_the_run_in_one_line(tmp_path: Path, no_simulation: None) -> None:
    with read_only_directory(tmp_path / "ro") as folder:
        message = refused(cli("run", SMALL, "--out", str(folder / "results")))
    assert "results" in message and "cannot write results there" in message
    assert len(cli_stderr_lines(message)) == 1


def cli_stderr_lines(message: str) -> list[str]:
    return [line for line in message.splitlines() if line.strip()]


def test_a_full_disk_is_exit_2_and_leaves_no_half_written_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    previous_result(out)
    original = OutputDir.write_bytes_with

    def full_at_the_report(self: OutputDir, name: str, write: Callable[[BinaryIO], None]) -> Path:
        if name == "report.html":
            raise_full = OSError(errno.ENOSPC, "No space left on device")

            def failing(stream: BinaryIO) -> None:
                stream.write(b"<html>")
                raise raise_full

            return original(self, name, failing)
        return original(self, name, write)

    monkeypatch.setattr(OutputDir, "write_bytes_with", full_at_the_report)
    message = refused(cli("run", SMALL, "--out", str(out), "--quiet"))
    assert "cannot write report.html (No space left on device)" in message
    assert f"{out} keeps its previous results" in message
    assert_previous_result_intact(out)
    assert not (out / "summary.json").exists(), "no summary.json without its report"


def test_a_tiny_file_system_fills_up_and_the_previous_set_survives(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "tiny", "256k") as mounted:
        out = mounted / "out"
        previous_result(out)
        message = refused(cli("run", SMALL, "--out", str(out), "--quiet"))
        assert "No space left on device" in message
        assert_previous_result_intact(out)


def test_a_second_run_replaces_the_first_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("run", SMALL, "--out", str(out), "--quiet").exit_code == 0
    first = json.loads((out / "summary.json").read_text())["trace_sha256"]
    assert cli("run", SMALL, "--seed", "9", "--out", str(out), "--quiet").exit_code == 0
    assert json.loads((out / "summary.json").read_text())["trace_sha256"] != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_interrupted_run_keeps_the_previous_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    previous_result(out)

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "run_scenario", interrupted)
    result = cli("run", SMALL, "--out", str(out))
    assert result.exit_code == 130
    assert "interrupted" in result.stderr and f"{out} keeps its previous results" in flat(result.stderr)
    assert_previous_result_intact(out)


def test_a_run_interrupted_while_it_is_checked_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "check_run", interrupted)
    result = cli("run", SMALL, "--out", str(tmp_path / "out"))
    assert result.exit_code == 130
    assert "interrupted while checking the run" in flat(result.stderr)


def test_a_directory_of_someone_elses_files_is_refused_and_untouched(tmp_path: Path, no_simulation: None) -> None:
    (tmp_path / "thesis.tex").write_text("years of work")
    assert "not written by concertsim" in refused(cli("run", SMALL, "--out", str(tmp_path)))
    assert [p.name for p in tmp_path.iterdir()] == ["thesis.tex"]


# --- Ctrl-C: a real SIGINT to a real process --------------------------------------------------------------


def interrupt(args: list[str], cwd: Path, out: Path, settle_seconds: float) -> subprocess.CompletedProcess[str]:
    """Start ``concertsim ARGS``, wait until it has begun writing beside ``out`` and for
    ``settle_seconds`` more, send SIGINT, and return how it ended."""
    process = subprocess.Popen(
        [sys.executable, "-m", "concertsim.cli", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(f".{out.name}.") for p in out.parent.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "never started writing"
        time.sleep(0.05)
    time.sleep(settle_seconds)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("command", "how_far"),
    [
        (["explore", "-n", "1000000"], r"interrupted (after \d+ examples \(\d+ runs\), no counterexample yet|before the first examples were judged)"),
        (["run", "ticket-opening", "--set", "workload.users=10000"], r"interrupted after \d+ of 300 s of simulated workload \([\d,]+ users arrived\)"),
        (["ablate", "-n", "1000000"],
         rf"interrupted after \d+ of {sum(s.applies_to('sync') + s.applies_to('choreography') for s in SAFEGUARDS)} cells, while searching \S+ \((sync|choreography)\)"),
    ],
    ids=["explore", "run", "ablate"],
)
def test_ctrl_c_says_how_far_it_got_and_keeps_the_previous_result(tmp_path: Path, command: list[str], how_far: str) -> None:
    out = tmp_path / "out"
    previous_result(out)
    ended = interrupt([*command, "--out", str(out)], tmp_path, out, settle_seconds=1.5)
    assert ended.returncode == 130, ended.stderr
    assert "Traceback" not in ended.stderr + ended.stdout
    assert re.search(how_far, flat(ended.stderr)), ended.stderr
    assert f"{out} keeps its previous results" in flat(ended.stderr)
    assert_previous_result_intact(out)


# --- schedulers ---------------------------------------------------------------------------------------------


def test_a_scheduler_that_is_not_an_address_is_refused_before_anything(tmp_path: Path) -> None:
    message = refused(cli("sweep", SMALL, "--scheduler", "notaurl", "--out", str(tmp_path / "s")))
    assert "not a scheduler address" in message and "tcp://HOST:PORT" in message
    assert not (tmp_path / "s").exists()


def test_an_unreachable_scheduler_says_how_long_it_waited(tmp_path: Path) -> None:
    message = refused(cli("sweep", SMALL, "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1",
                          "--out", str(tmp_path / "s")))
    assert "no Dask scheduler answered at tcp://127.0.0.1:1 within 1 s" in message
    assert list(tmp_path.iterdir()) == []


# --- scenarios: names, typos, --set, free text, size -----------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "explore", "ablate", "sweep", "graph", "validate", "replay"])
def test_every_command_suggests_the_builtin_a_typo_meant(command: str, tmp_path: Path) -> None:
    args = [command, "smal-opening"]
    if command not in ("validate",):
        args += ["--out", str(tmp_path / "o")]
    message = refused(cli(*args))
    assert "did you mean 'small-opening'" in message


def test_validate_accepts_builtin_names_as_run_does() -> None:
    result = cli("validate", "ticket-opening")
    assert result.exit_code == 0 and "valid scenario ticket-opening" in flat(result.stdout)


def test_a_set_error_on_a_builtin_names_the_set_and_not_the_installation(tmp_path: Path) -> None:
    message = refused(cli("run", "relay-crashes", "--set", "workload.users=-5", "--out", str(tmp_path / "o")))
    assert "--set workload.users=-5" in message and "built-in scenario 'relay-crashes'" in message
    assert str(builtin_path("relay-crashes").parent) not in message and "site-packages" not in message


def test_a_duplicated_key_is_refused_naming_the_key_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("faults:\n  - {at: 1, kind: crash, target: point}\nname: x\nfaults: []\n", encoding="utf-8")
    message = refused(cli("run", str(path), "--out", str(tmp_path / "o")))
    assert "duplicate key 'faults'" in message and "line 1" in message and "line 4" in message


@pytest.mark.parametrize("name", ["pay\u202eexe.txt", "clear\x1b[2J", "two\u2028lines"])
def test_a_name_that_would_display_as_something_else_is_refused(name: str, tmp_path: Path, no_simulation: None) -> None:
    message = refused(cli("run", SMALL, "--set", f"name={name}", "--out", str(tmp_path / "o")))
    assert "name:" in message
    assert "display differently" in message or "special characters are not allowed" in message
    assert "\x1b" not in message and "\u202e" not in message, "the message itself shows the character escaped"


def test_square_brackets_in_a_name_and_a_path_print_as_themselves(tmp_path: Path) -> None:
    out = tmp_path / "n[/]m"
    result = cli("run", SMALL, "--set", "name=x[/bold]y", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "x[/bold]y  seed" in result.stdout and f"written to {out}/" in flat(result.stdout)


def test_html_in_a_name_is_escaped_in_the_report(tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert cli("run", SMALL, "--set", "name=<script>alert(1)</script>", "--out", str(out), "--quiet").exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_a_million_users_is_refused_with_an_estimate_and_advice(tmp_path: Path, no_simulation: None) -> None:
    message = refused(cli("run", "--set", "workload.users=1000000", "--out", str(tmp_path / "o")))
    assert "too large to run without --allow-large" in message
    assert "1,000,000 users" in message and re.search(r"[\d.,]+ [GT]B of memory", message) and "workload.users" in message
    assert not (tmp_path / "o").exists()


def test_allow_large_runs_it_anyway_and_announces_the_estimate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def stop(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the run started: the size check let it through

    monkeypatch.setattr(run_module, "run_scenario", stop)
    result = cli("run", "--set", "workload.users=1000000", "--allow-large", "--out", str(tmp_path / "o"))
    assert result.exit_code == 130
    assert "estimated: 1,000,000 users" in flat(result.stderr)


# --- replay ----------------------------------------------------------------------------------------------------


def recording(tmp_path: Path, name: str, expect: dict[str, Any] | None, *overrides: str) -> Path:
    """The small opening (with ``overrides``) as a file carrying ``expect`` (or no recording)."""
    scenario = load_builtin(SMALL, overrides)
    data = scenario.model_dump(mode="json", exclude={"expect"})
    if expect is not None:
        data["expect"] = expect
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_replay_exit_codes_say_what_happened(tmp_path: Path) -> None:
    passing = run_scenario(load_builtin(SMALL)).trace_sha256
    broken = ("design.hold_expiry=false", "settle.deadline=60")
    failing = run_scenario(load_builtin(SMALL, broken))
    violated = [v.invariant.id for v in check_run(failing) if v.violated]
    assert violated
    cases = {
        "reproduced-and-holds.yaml": (recording(tmp_path, "a.yaml", {"trace_sha256": passing}), 0),
        "reproduced-violation.yaml": (
            recording(tmp_path, "b.yaml", {"trace_sha256": failing.trace_sha256, "violated": violated}, *broken), 1
        ),
        "trace-differs.yaml": (recording(tmp_path, "c.yaml", {"trace_sha256": "0" * 64}), 3),
        "violations-differ.yaml": (recording(tmp_path, "d.yaml", {"violated": ["no-double-booking"]}), 3),
    }
    for label, (path, code) in cases.items():
        result_ = cli("replay", str(path), "--out", str(tmp_path / label), "--json")
        assert result_.exit_code == code, (label, result_.output)
        reproduced = json.loads(result_.stdout)["reproduced"]
        assert reproduced is (code != 3), label


def test_replay_without_a_recording_says_nothing_was_checked(tmp_path: Path) -> None:
    result = cli("replay", str(recording(tmp_path, "plain.yaml", None)), "--out", str(tmp_path / "r"))
    assert result.exit_code == 0
    assert "nothing was checked against a recording" in flat(result.stdout)
    quiet = cli("replay", str(recording(tmp_path, "plain.yaml", None)), "--out", str(tmp_path / "r"), "--quiet")
    assert "nothing was checked against a recording" in flat(quiet.stderr)


# --- what is printed ------------------------------------------------------------------------------------------


def test_check_determinism_says_the_trace_was_the_same_twice(tmp_path: Path) -> None:
    result = cli("run", SMALL, "--check-determinism", "--out", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert re.search(r"deterministic: same trace twice \(sha [0-9a-f]{64}\)", flat(result.stdout)), result.stdout


def test_scenarios_piped_prints_one_line_per_scenario() -> None:
    result = cli("scenarios")
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    for line, name in zip(lines, builtin_names()):
        assert " ".join(load_builtin(name).description.split()) in line


def recording_console() -> Console:
    return Console(file=open(os.devnull, "w"), force_terminal=True, width=200)  # noqa: SIM115


def test_explore_progress_has_an_eta_and_says_how_far_it_got() -> None:
    with Progress(console=recording_console()) as progress:
        watch = SearchWatch(200, progress)
        assert watch.how_far() == "before the first examples were judged"
        report = Exploration(base=load_builtin(SMALL), examples_requested=200, generated=25, runs=25)
        watch(report)
        time.sleep(0.05)
        report.generated = report.runs = 50
        watch(report)
        task = progress.tasks[0]
        assert task.completed == 50 and task.total == 200 and task.time_remaining is not None
        assert watch.how_far() == "after 50 examples (50 runs), no counterexample yet"
        report.examples_to_failure, report.runs = 51, 80
        watch(report)
        assert "shrinking the failure of example 51" in progress.tasks[0].description
    source = Path(sys.modules["concertsim.cli.explore"].__file__ or "").read_text()
    assert "TimeRemainingColumn()" in source and 'TextColumn("ETA")' in source


def test_ablate_progress_names_the_cell_being_searched() -> None:
    with Progress(console=recording_console()) as progress:
        watch = CellWatch(SAFEGUARDS[:2], ("sync", "choreography"), progress)
        assert progress.tasks[0].description == "searching publish=dual_write (sync)"
        watch(None)  # type: ignore[arg-type]
        assert progress.tasks[0].description == "searching publish=dual_write (choreography)"
        watch(None)  # type: ignore[arg-type]
        assert progress.tasks[0].description == "searching consumer_dedup=false (sync)"
        assert watch.how_far() == "after 2 of 4 cells, while searching consumer_dedup=false (sync)"


def test_run_progress_follows_simulated_time_and_users() -> None:
    scenario = load_builtin(SMALL, ("workload.duration=10",))  # users still busy at heal: the run settles
    with Progress(console=recording_console()) as progress:
        watch = run_module.RunWatch(scenario, progress)
        run_scenario(scenario, on_progress=watch)
        assert progress.tasks[0].description == "settling"
    assert watch.how_far().startswith("while settling")


def test_an_interruption_swallowed_by_a_library_is_raised_again_at_the_next_progress(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concertsim.cli.errors import Terminated

    app_module = importlib.import_module("concertsim.cli.app")  # the module, not the Typer app

    watch = CellWatch(SAFEGUARDS[:1], ("sync",), None)
    watch(None)  # type: ignore[arg-type]
    monkeypatch.setattr(app_module, "_pending_signal", signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        watch(None)  # type: ignore[arg-type]
    monkeypatch.setattr(app_module, "_pending_signal", signal.SIGTERM)
    with pytest.raises(Terminated):
        SearchWatch(10, None)(Exploration(base=load_builtin(SMALL), examples_requested=10))


def test_messages_show_control_characters_escaped() -> None:
    assert printable("a\x1b[2Jb\u202ec\nd") == "a\\x1b[2Jb\\u202ec\nd"


# --- documentation and packaging ------------------------------------------------------------------------------


def test_every_exit_code_is_in_the_help_and_the_readme() -> None:
    shown = flat(cli("--help").stdout)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for code, meaning in EXIT_CODES:
        assert f"{code} {meaning.split()[0]}" in shown, code
        assert re.search(rf"^\| `?{code}`? \|", readme, re.MULTILINE), code


def test_every_import_of_the_tests_is_declared() -> None:
    """Each third-party module the tests import comes from a distribution the project declares (as
    a dependency or in the ``test`` extra), so the tests never work only by accident."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_distribution_name(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]}
    providers = metadata.packages_distributions()
    local = {"concertsim", "tests", "conftest"}
    missing = {}
    for module in sorted(_imported_top_level_modules(REPO / "tests")):
        if module in local or module in sys.stdlib_module_names:
            continue
        distributions = {_normalise(d) for d in providers.get(module, [module])}
        if not distributions & declared:
            missing[module] = sorted(distributions)
    assert missing == {}, f"imported by the tests but not declared in pyproject.toml: {missing}"


def _imported_top_level_modules(folder: Path) -> set[str]:
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules.update(alias.name.partition(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.partition(".")[0])
    return modules


def _distribution_name(requirement: str) -> str:
    return _normalise(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
