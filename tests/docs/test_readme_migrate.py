"""The README's migration section runs as printed: each console block's command prints exactly the
lines shown and exits with the code shown."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def migrate_examples() -> list[tuple[list[str], list[str], int]]:
    """Each console block of the section: its command, the lines it prints, its exit code."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Migrating in stages")
    section = readme[start:readme.index("\n## ", start + 1)]
    examples = []
    for block in re.findall(r"```console\n(.*?)```", section, re.DOTALL):
        lines = block.splitlines()
        echo = lines.index("$ echo $?")
        examples.append((shlex.split(lines[0].removeprefix("$ concertsim ")), lines[1:echo], int(lines[echo + 1])))
    return examples


def test_the_readme_migration_examples_print_what_they_show(tmp_path: Path) -> None:
    examples = migrate_examples()
    assert [command[0] for command, _, _ in examples] == ["migrate", "migrate"]
    assert examples[0][0] == ["migrate", "--seeds", "2"]  # the default scenario prints its table
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    for command, shown, code in examples:
        done = subprocess.run([sys.executable, "-m", "concertsim.cli", *command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == code, done.stderr
        assert [line.rstrip() for line in done.stdout.splitlines()] == [line.rstrip() for line in shown]
    assert (tmp_path / "concertsim-migrate" / "migration.json").is_file()
