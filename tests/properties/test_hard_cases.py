"""Known hard cases, each a minimal schedule in a scenario file: the full design must handle it,
the run must reach the dangerous interleaving (its probe), and without the safeguard that handles
it the same schedule must break a promise."""

from __future__ import annotations

from pathlib import Path

import pytest

from concertsim.checks import check_run
from concertsim.checks.probes import probe_counts
from concertsim.scenarios.loader import load_scenario
from concertsim.sim.run.runner import run_scenario

CASES = Path(__file__).parent / "cases"

HARD_CASES = [
    # (file, probe it must reach, safeguard switched off, invariant that then breaks)
    ("reply-lost-after-deduction", "reply-lost-after-deduction", "design.compensation=false", "no-orphaned-deduction"),
    ("refund-overtakes-deduction", "refund-overtook-deduction", "design.cancel_tombstones=false", "no-orphaned-deduction"),
    ("payment-at-hold-expiry", "payment-at-hold-expiry", "design.compensation=false", "no-orphaned-deduction"),
    ("relay-crash-between-publish-and-mark", "relay-republished", "design.consumer_dedup=false", "data-platform-exactly-once"),
]


@pytest.mark.parametrize(("name", "probe", "switch", "breaks"), HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_full_design_handles_the_hard_case(name: str, probe: str, switch: str, breaks: str) -> None:
    result = run_scenario(load_scenario(CASES / f"{name}.yaml"))
    assert probe_counts(result)[probe] > 0, f"the schedule no longer reaches {probe}"
    assert [v.invariant.id for v in check_run(result) if v.violated] == []


@pytest.mark.parametrize(("name", "probe", "switch", "breaks"), HARD_CASES, ids=[c[0] for c in HARD_CASES])
def test_without_its_safeguard_the_hard_case_breaks(name: str, probe: str, switch: str, breaks: str) -> None:
    result = run_scenario(load_scenario(CASES / f"{name}.yaml", [switch]))
    assert breaks in [v.invariant.id for v in check_run(result) if v.violated]
