"""The README's comparison example runs as printed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def comparison_example() -> tuple[list[str], list[str], int]:
    """The command of the README's comparison example, the lines it shows (``...`` standing for
    any lines) and the exit code it shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Comparing two designs"):]
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the comparison section has no console block"
    lines = block.group(1).splitlines()
    assert lines[0].startswith("$ concertsim compare ")
    echo = lines.index("$ echo $?")
    return shlex.split(lines[0].removeprefix("$ concertsim ")), lines[1:echo], int(lines[echo + 1])


def test_the_comparison_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    command, shown, exit_code = comparison_example()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    done = subprocess.run([sys.executable, "-m", "concertsim.cli", *command], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == exit_code, done.stderr
    printed = [line.rstrip() for line in done.stdout.splitlines()]
    at = 0
    for line in shown:
        if line == "...":
            continue
        assert line in printed[at:], f"{line!r} not printed (after line {at}):\n" + "\n".join(printed)
        at = printed.index(line, at) + 1
    for name in ("comparison.json", "report.md", "report.html"):
        assert (tmp_path / "concertsim-compare" / name).is_file()
