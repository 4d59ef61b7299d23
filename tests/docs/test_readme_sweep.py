"""The README's sweep section runs as printed: the grid sweep with its last table and verdict, and
the same command with --resume, which takes up the complete sweep instead of running it again."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from concertsim.cli import app
from concertsim.sweep import journal_directory

ROOT = Path(__file__).resolve().parents[2]


def sweep_example() -> tuple[list[str], list[str], int, str]:
    """The section's command, the lines it shows after '...', its exit code, and its prose."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Sweeping a grid of designs")
    section = readme[start:readme.index("\n## ", start + 1)]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None
    lines = block.group(1).splitlines()
    command = lines[0].removeprefix("$ concertsim ").split()
    echo = lines.index("$ echo $?")
    assert lines[1] == "..."
    return command, lines[2:echo], int(lines[echo + 1]), section


def test_the_readme_sweep_prints_what_it_shows_and_resumes_as_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command, shown, code, prose = sweep_example()
    assert command[0] == "sweep"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "concertsim.cli", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == code, done.stderr
    printed = [line.rstrip() for line in done.stdout.splitlines()]
    assert printed[-len(shown):] == [line.rstrip() for line in shown]
    out = tmp_path / "concertsim-sweep"
    assert {"sweep.jsonl", "summary.json", "report.md", "report.html"} <= {p.name for p in out.iterdir()}
    assert f"`{journal_directory(Path('concertsim-sweep')).name}/`" in prose

    monkeypatch.chdir(tmp_path)
    resumed = CliRunner().invoke(app, [*command, "--resume"])
    assert resumed.exit_code == code, resumed.output
    assert "holds this sweep complete" in resumed.stderr and "all of them finished before this --resume" in resumed.stdout
