"""The README's section on a migration in motion runs as printed: its plan file, and each console
block's command printing exactly the lines shown and exiting with the code shown."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Migrating in motion")
    return readme[start:readme.index("\n## ", start + 1)]


def test_the_readme_migration_plan_examples_print_what_they_show(tmp_path: Path) -> None:
    text = section()
    (plan,) = re.findall(r"```yaml\n# plan.yaml\n(.*?)```", text, re.DOTALL)
    (tmp_path / "plan.yaml").write_text(plan, encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", text, re.DOTALL)
    assert len(blocks) == 3
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    codes = []
    for block in blocks:
        lines = block.splitlines()
        echo = lines.index("$ echo $?")
        command = shlex.split(lines[0].removeprefix("$ concertsim "))
        assert command[:4] == ["migrate", "small-opening", "--plan", "plan.yaml"] or command == [
            "migrate", "--plan", "monolith-split"]
        done = subprocess.run([sys.executable, "-m", "concertsim.cli", *command], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == int(lines[echo + 1]), done.stderr
        assert [line.rstrip() for line in done.stdout.splitlines()] == [line.rstrip() for line in lines[1:echo]]
        codes.append(done.returncode)
    assert codes == [0, 1, 0]
    assert (tmp_path / "concertsim-migrate" / "summary.json").is_file()
