"""``bench/search_events.py``, which bench/README.md names, counts a search's simulated events by
what they wake, and leaves the event loop as it found it."""

from __future__ import annotations

import heapq
import re
import sys

import pytest

from concertsim.sim.run import event_budget
from tests.bench.bench_modules import load_bench


def test_the_events_of_a_few_examples_are_counted_by_what_they_wake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["search_events.py", "--examples", "3", "--top", "50"])
    load_bench("search_events").main()
    out = capsys.readouterr().out
    head = re.match(r"([\d,]+) events in (\d) distinct examples: ([\d,]+) an example", out)
    assert head is not None, out
    assert int(head.group(1).replace(",", "")) > 100
    assert "Timeout      Network._arrive" in out  # a request reaching its callee
    assert "Host.transact>Database.commit" in out  # a commit inside a request's transaction
    assert event_budget.heappop is heapq.heappop
