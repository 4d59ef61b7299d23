"""``bench/memory_census.py``, which bench/README.md names, lists what a finished run holds: the
live total, the largest allocation sites and the total by file, the run's own code among them."""

from __future__ import annotations

import re
import sys

import pytest

from tests.bench.bench_modules import load_bench


def test_a_census_names_the_run_s_own_allocation_sites(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["memory_census.py", "--scale", "1", "--top", "40"])
    load_bench("bench_messages")  # what the script imports from beside it
    load_bench("memory_census").main()
    out = capsys.readouterr().out
    total = re.match(r"400 users, trace stream: ([\d.]+) MiB live after the run, ([\d.]+) KiB per user", out)
    assert total is not None, out
    assert float(total.group(1)) > 1
    sites, by_file = out.split("by file")
    assert re.search(r"sim/infrastructure/\w+\.py:\d+", sites)
    assert "sim/run/workload.py" in by_file
