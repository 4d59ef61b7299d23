"""The built-in scenario library: every scenario loads, and shows what its comment says."""

from __future__ import annotations

import pytest

from concertsim.api import run
from concertsim.scenarios.loader import builtin_names, builtin_path, load_builtin

EXPECTED_TO_BREAK = {"dual-write": {"no-lost-events", "seat-view-converges"}}


def test_the_library_has_the_documented_scenarios() -> None:
    assert {
        "ticket-opening", "small-opening", "steady-state", "point-partition", "broker-outage",
        "relay-crashes", "duplicate-storm", "hold-expiry-race", "dual-write", "big-flash-crowd",
    } <= set(builtin_names())


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_is_documented(name: str) -> None:
    text = builtin_path(name).read_text()
    assert text.startswith("#"), "each scenario file opens with a comment saying what it shows"
    assert load_builtin(name).description


@pytest.mark.parametrize("name", builtin_names())
def test_builtin_keeps_or_breaks_the_promises_its_comment_says(name: str) -> None:
    outcome = run(name)
    assert set(outcome.violated) >= EXPECTED_TO_BREAK.get(name, set())
    if name not in EXPECTED_TO_BREAK:
        assert outcome.violated == []


def test_fault_scenarios_reach_the_situation_they_show() -> None:
    metrics = {name: run(name).metrics for name in ("point-partition", "relay-crashes", "duplicate-storm", "hold-expiry-race")}
    assert metrics["point-partition"]["points"]["refunds"] > 0
    assert metrics["hold-expiry-race"]["points"]["refunds"] > 0
    assert metrics["relay-crashes"]["events"]["duplicates_skipped"] > 0
    assert metrics["duplicate-storm"]["events"]["duplicates_skipped"] > 100
