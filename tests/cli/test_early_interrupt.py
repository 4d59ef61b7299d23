"""Ctrl-C in the first instants of a command, while the command line is still being imported, is a
clean exit 130 saying so, never a KeyboardInterrupt traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("after_seconds", [0.3, 0.8])
def test_ctrl_c_while_the_command_line_starts_exits_130_without_a_traceback(after_seconds: float, tmp_path: Path) -> None:
    started = subprocess.Popen(
        [sys.executable, "-m", "concertsim", "explore", "-n", "50", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As from a terminal, whatever launched the tests: a shell's background job ignores SIGINT,
        # and its children would inherit that and never see the Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(after_seconds)
    started.send_signal(signal.SIGINT)
    _, stderr = started.communicate(timeout=120)
    assert started.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "interrupted" in stderr
    assert not (tmp_path / "out").exists()


def test_importing_the_package_imports_nothing_heavy() -> None:
    probe = "import sys, concertsim; print(sorted(m for m in ('simpy', 'matplotlib', 'dask') if m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == "[]"
