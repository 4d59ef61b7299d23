"""Bad input at the command line: exit code 2, a message on stderr that names the file and the
field, and never a Python traceback.

Every case runs in-process through typer's CliRunner (stdout and stderr apart). A sample covering
each way a file can be wrong also runs as a separate ``python -m concertsim.cli`` process, as a user
or a CI job would, to see the real exit code and the real stderr; those run concurrently.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.scenarios.loader import builtin_names, builtin_path

REPO = Path(__file__).resolve().parents[2]
BROKEN = REPO / "tests" / "scenarios" / "broken"
CORPUS = sorted(BROKEN.glob("*.yaml"))
EXIT_BAD_INPUT = 2

# One file per stage that can refuse a scenario: reading the bytes, parsing YAML, the schema.
IN_A_PROCESS = [
    "binary.yaml", "not-utf8.yaml", "empty.yaml", "syntax-unclosed-bracket.yaml",
    "python-tag-apply.yaml", "top-level-list.yaml", "wrong-type-users.yaml", "unknown-nested-key.yaml",
    "huge-seed.yaml", "nan-latency.yaml", "partition-same-party.yaml", "unknown-invariant.yaml",
]
BAD_SETS = {
    "workload.users=-5": "workload.users",
    "nosuch.field=1": "nosuch",
    "design.publish=carrier_pigeon": "design.publish",
}


def cli(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def concertsim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "concertsim.cli", *args],
        capture_output=True, text=True, encoding="utf-8", errors="replace", cwd=REPO, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))},
    )


def flat(text: str) -> str:
    """``text`` with every run of whitespace made one space: the console wraps long lines."""
    return " ".join(text.split())


def expected_fields() -> dict[str, str]:
    """From broken/expected-errors.txt: the field path each file's error must name ("" if none)."""
    fields = {}
    for line in (BROKEN / "expected-errors.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, field, *_ = (part.strip() for part in line.split("|"))
            fields[name] = "" if field == "-" else field
    return fields


FIELDS = expected_fields()


def assert_refused(exit_code: int, stdout: str, stderr: str, path: Path) -> None:
    assert exit_code == EXIT_BAD_INPUT, stderr
    assert "Traceback" not in stdout + stderr
    assert stdout == "", "errors go to stderr"
    message = flat(stderr)
    assert message.startswith("error:") and "invalid scenario" in message
    assert path.name in message
    if FIELDS[path.name]:
        assert FIELDS[path.name] in message, stderr


@pytest.fixture(scope="module")
def processes(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """The out-of-process commands, run concurrently; keyed by their arguments."""
    out = tmp_path_factory.mktemp("runs")
    commands = [("validate", str(BROKEN / name)) for name in IN_A_PROCESS]
    commands.append(("validate", str(builtin_path("ticket-opening"))))
    commands += [
        ("run", "relay-crashes", "--set", override, "--out", str(out / str(i)))
        for i, override in enumerate(BAD_SETS)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(commands, pool.map(lambda command: concertsim(*command), commands)))


# --- validate ---------------------------------------------------------------------------------------


def test_every_corpus_file_has_an_expected_field() -> None:
    assert sorted(FIELDS) == [p.name for p in CORPUS]
    assert set(IN_A_PROCESS) <= set(FIELDS)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_validate_refuses_broken_file_with_exit_2_naming_file_and_field(path: Path) -> None:
    result = cli("validate", str(path))
    assert isinstance(result.exception, SystemExit), result.exception
    assert_refused(result.exit_code, result.stdout, result.stderr, path)


@pytest.mark.parametrize("name", IN_A_PROCESS)
def test_validate_process_refuses_broken_file_with_exit_2_and_no_traceback(
    name: str, processes: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
) -> None:
    result = processes[("validate", str(BROKEN / name))]
    assert_refused(result.returncode, result.stdout, result.stderr, BROKEN / name)


@pytest.mark.parametrize("name", builtin_names())
def test_validate_accepts_builtin(name: str) -> None:
    result = cli("validate", str(builtin_path(name)))
    assert result.exit_code == 0, result.output
    assert "valid scenario" in flat(result.stdout) and name in result.stdout
    assert result.stderr == ""


def test_validate_process_accepts_the_default_scenario(
    processes: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
) -> None:
    result = processes[("validate", str(builtin_path("ticket-opening")))]
    assert result.returncode == 0, result.stderr
    assert "valid scenario" in flat(result.stdout) and result.stderr == ""


def test_validate_process_does_not_execute_python_tags(tmp_path: Path) -> None:
    marker = tmp_path / "hacked"
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(f'!!python/object/apply:os.system ["touch {marker}"]\n', encoding="utf-8")
    result = concertsim("validate", str(hostile))
    assert result.returncode == EXIT_BAD_INPUT and "Traceback" not in result.stderr
    assert "tag not allowed" in flat(result.stderr)
    assert not marker.exists()


@pytest.mark.parametrize("make", ["missing", "directory"])
def test_validate_refuses_what_is_not_a_file(tmp_path: Path, make: str) -> None:
    target = tmp_path / "nope.yaml" if make == "missing" else tmp_path
    result = cli("validate", str(target))
    assert result.exit_code == EXIT_BAD_INPUT and isinstance(result.exception, SystemExit)
    assert target.name in result.stderr


def test_validate_with_a_bad_override_names_the_override() -> None:
    result = cli("validate", str(builtin_path("small-opening")), "--set", "rules.hold_ttl=0")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "rules.hold_ttl" in flat(result.stderr) and "--set rules.hold_ttl=0" in flat(result.stderr)


# --- run with bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("override", list(BAD_SETS))
def test_run_process_with_a_bad_set_exits_2_naming_the_field(
    override: str, processes: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
) -> None:
    ((command, result),) = [(c, r) for c, r in processes.items() if c[0] == "run" and override in c]
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert BAD_SETS[override] in flat(result.stderr)
    assert f"--set {override}" in flat(result.stderr)
    assert not Path(command[-1]).exists(), "bad input is refused before anything is written"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("rules.hold_ttl=.nan", "rules.hold_ttl"),
        ("faults.0.kind=meteor", "faults.0.kind"),
        ("faults.9.at=1", "faults.9.at"),
        ("workload.users=[1", "workload.users"),
        ("noequals", "noequals"),
        ("=5", "=5"),
    ],
)
def test_run_with_a_bad_set_exits_2_naming_the_field(tmp_path: Path, override: str, field: str) -> None:
    result = cli("run", "relay-crashes", "--set", override, "--out", str(tmp_path / "out"))
    assert result.exit_code == EXIT_BAD_INPUT and isinstance(result.exception, SystemExit)
    assert field in flat(result.stderr)
    assert not (tmp_path / "out").exists()


def test_run_of_a_broken_file_exits_2(tmp_path: Path) -> None:
    result = cli("run", str(BROKEN / "negative-ttl.yaml"), "--out", str(tmp_path / "out"))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "negative-ttl.yaml" in flat(result.stderr) and "rules.hold_ttl" in flat(result.stderr)


def test_run_of_an_unknown_scenario_name_exits_2(tmp_path: Path) -> None:
    result = cli("run", "no-such-scenario", "--out", str(tmp_path / "out"))
    assert result.exit_code == EXIT_BAD_INPUT
    assert "no-such-scenario" in result.stderr


# --- bad input that once escaped as a traceback or a wrong exit code ---------------------------------


def test_validate_refuses_deeply_nested_yaml(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("name: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    result = cli("validate", str(path))
    assert result.exit_code == EXIT_BAD_INPUT


def test_run_refuses_a_negative_fault_parameter(tmp_path: Path) -> None:
    result = cli(
        "run", "small-opening", "--set", "faults=[{at: 1, kind: slow, target: point, params: {factor: -1}}]",
        "--out", str(tmp_path / "out"), "--quiet",
    )
    assert result.exit_code == EXIT_BAD_INPUT


def test_run_refuses_a_seed_beyond_the_schema(tmp_path: Path) -> None:
    result = cli("run", "small-opening", "--seed", str(2**64), "--set", "workload.users=3",
                 "--out", str(tmp_path / "out"), "--quiet")
    assert result.exit_code == EXIT_BAD_INPUT


def test_error_names_a_long_path_on_one_line(tmp_path: Path) -> None:
    folder = tmp_path / ("scenarios-under-a-long-directory-name-" * 2)
    folder.mkdir()
    path = folder / "negative-ttl.yaml"
    path.write_bytes((BROKEN / "negative-ttl.yaml").read_bytes())
    result = cli("validate", str(path))
    assert result.exit_code == EXIT_BAD_INPUT
    assert str(path) in result.stderr
