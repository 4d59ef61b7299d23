"""``bench/large_run_phases.py``, which the README names, times every phase of a run: a small
opening, each phase printed once and the total."""

from __future__ import annotations

import sys

import pytest

from tests.bench.bench_modules import load_bench


def test_every_phase_of_a_small_opening_is_timed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["large_run_phases.py", "150"])
    load_bench("large_run_phases").main()
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == ["simulation", "checks", "metrics", "hash", "summary", "report", "total"]
