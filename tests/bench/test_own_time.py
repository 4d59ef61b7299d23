"""``bench/own_time.py``, which bench/README.md names, sums a py-spy raw profile's samples inside
``run_scenario`` by the file of their innermost frame, and tells the event core from the rest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.bench.bench_modules import load_bench

PROFILE = """\
<module> (x.py:1);run_scenario (concertsim/sim/run/runner.py:78);EventBudget.run_until (concertsim/sim/run/event_budget.py:88) 3
<module> (x.py:1);run_scenario (concertsim/sim/run/runner.py:78);Event.succeed (simpy/events.py:399) 1
<module> (x.py:1);run_scenario (concertsim/sim/run/runner.py:78);Host.serve (concertsim/sim/hosting/host.py:157) 4
<module> (x.py:1);check_run (concertsim/checks/__init__.py:70) 100
"""


def test_samples_are_summed_by_file_and_the_event_core_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "spy.txt"
    profile.write_text(PROFILE, encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["own_time.py", str(profile)])
    load_bench("own_time").main()
    out = capsys.readouterr().out
    assert out.startswith("8 samples inside run_scenario")  # the checks' 100 samples left out
    assert " 50.0%  concertsim/sim/hosting/host.py\n" in out
    assert " 37.5%  concertsim/sim/run/event_budget.py  (event core)" in out
    assert "the event core: 50.0%; everything else: 50.0%" in out
