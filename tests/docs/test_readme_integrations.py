"""The README's section on CI, pytest, notebooks and tracing tools does what it shows: its
command writes the JUnit and OTLP files, its pytest example passes in a scratch project, and its
notebook snippet runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from concertsim.scenarios.schema import INVARIANT_IDS

ROOT = Path(__file__).resolve().parents[2]


def section_blocks(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## In CI, pytest, notebooks and tracing tools")
    section = readme[start:readme.index("\n## ", start + 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)


def test_the_command_writes_a_junit_file_and_an_otlp_trace(tmp_path: Path) -> None:
    (block,) = section_blocks("bash")
    words = block.split()
    assert words[0] == "concertsim"
    done = subprocess.run([sys.executable, "-m", "concertsim.cli", *words[1:]], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "results.xml").read_text().count("<testcase ") == len(INVARIANT_IDS)
    assert (tmp_path / "run-small" / "trace.otlp.json").is_file()


def test_the_pytest_example_passes_in_a_scratch_project(tmp_path: Path) -> None:
    plugin_example, _notebook = section_blocks("python")
    (tmp_path / "test_example.py").write_text(plugin_example)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr


def test_the_notebook_snippet_runs(capsys) -> None:
    _plugin_example, notebook = section_blocks("python")
    exec(compile(notebook, "README", "exec"), {})  # noqa: S102 - the README's own example
    assert "call.send" in capsys.readouterr().out
