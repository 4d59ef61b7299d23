"""The README's worked example runs as printed, from the checkout and from an installed copy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def worked_example() -> tuple[list[str], list[str], int]:
    """The command of the README's worked example, the output lines it shows after '...', and
    the exit code it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## A worked example"):]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the worked example has no console block"
    lines = block.group(1).splitlines()
    assert lines[0].startswith("$ concertsim ")
    command = lines[0].removeprefix("$ concertsim ").split()
    echo = lines.index("$ echo $?")
    shown = lines[1:echo]
    assert shown[0] == "...", "the example shows the end of the output, after '...'"
    return command, shown[1:], int(lines[echo + 1])


def run_cli(args: list[str], pythonpath: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "COLUMNS": "80", "PYTHONHASHSEED": "random"}
    return subprocess.run([sys.executable, "-m", "concertsim", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("install", ["checkout", "installed copy"])
def test_the_worked_example_prints_what_the_readme_shows(install: str, tmp_path: Path) -> None:
    command, expected, exit_code = worked_example()
    if install == "checkout":
        pythonpath = ROOT
    else:
        pythonpath = tmp_path / "lib" / "site-packages"
        shutil.copytree(ROOT / "concertsim", pythonpath / "concertsim", ignore=shutil.ignore_patterns("__pycache__"))
    work = tmp_path / "work"
    work.mkdir()
    done = run_cli(command, pythonpath, work)
    printed = [line.rstrip() for line in done.stdout.splitlines()]
    assert done.returncode == exit_code, done.stderr
    assert printed[-len(expected):] == [line.rstrip() for line in expected]

    out = work / command[command.index("--out") + 1]
    replay = run_cli(["replay", str(out / "counterexample.yaml")], pythonpath, work)
    assert replay.returncode == 1, replay.stdout + replay.stderr  # the recorded violation, reproduced
    restored = run_cli(["run", str(out / "counterexample.yaml"), "--set", "design.compensation=true",
                        "--out", str(work / "restored"), "--quiet"], pythonpath, work)
    assert restored.returncode == 0, restored.stdout + restored.stderr  # compensation back on: the schedule passes
