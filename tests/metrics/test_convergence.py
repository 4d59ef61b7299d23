"""Time to convergence counts from the end of the last fault, and does not apply to a run without
faults (where the time from the nominal heal to quiescence is the users' tail and the hold TTL)."""

from __future__ import annotations

import pytest

from concertsim.metrics import headline_measures
from tests.metrics.helpers import small_run


def test_a_run_without_faults_has_no_time_to_convergence() -> None:
    outcome = small_run()
    time = outcome.metrics["time"]
    assert time["settled_at"] is not None and time["time_to_convergence"] is None
    assert time["faults_ended_at"] is None
    assert headline_measures(outcome.result, outcome.metrics)["time_to_convergence_s"] is None


def test_recovery_counts_from_the_end_of_a_fault_with_a_duration() -> None:
    outcome = small_run(faults=[{"at": 2, "kind": "crash", "target": "broker", "duration": 3}])
    time = outcome.metrics["time"]
    assert time["settled_at"] is not None
    assert time["time_to_convergence"] == pytest.approx(time["settled_at"] - 5.0)
    assert time["faults_ended_at"] == pytest.approx(5.0)


def test_a_fault_until_heal_ends_at_heal() -> None:
    outcome = small_run(faults=[{"at": 2, "kind": "slow", "target": "point"}])
    time = outcome.metrics["time"]
    assert time["faults_ended_at"] == pytest.approx(time["heal_at"])
    assert time["time_to_convergence"] == pytest.approx(time["settled_at"] - time["heal_at"])
