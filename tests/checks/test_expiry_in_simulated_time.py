"""``seats-released-on-expiry`` judges a hold in simulated time, where the faults are: a skewed
service clock shifts the reservation's own timestamps, not when its faults struck."""

from __future__ import annotations

from pathlib import Path

from concertsim.checks import check_run
from concertsim.models import reservations
from concertsim.scenarios.loader import load_scenario
from concertsim.sim.run.runner import run_scenario

CASE = Path(__file__).parents[1] / "sim" / "cases" / "hold-expiry-under-clock-skew.yaml"


def test_a_hold_released_late_while_reservations_commits_fail_is_excused_under_a_skewed_clock() -> None:
    result = run_scenario(load_scenario(CASE))
    skewed = [r for r in result.table("reservation", reservations.RESERVATIONS).values() if r.held_at > 200]
    assert skewed, "no hold was taken under the skewed clock"
    (verdict,) = check_run(result, ["seats-released-on-expiry"])
    assert not verdict.violated, verdict.violations[:1]


def test_without_the_failing_commits_the_same_holds_expire_on_time() -> None:
    result = run_scenario(load_scenario(CASE, ["faults=[{at: 4.9, kind: clock_skew, target: reservation, params: {seconds: 200}}]"]))
    (verdict,) = check_run(result, ["seats-released-on-expiry"])
    assert not verdict.violated and verdict.not_applicable is None
