"""What the search draws: partitions in every direction, at least one fault per example, late
messages on the scale of the hold, and service faults aimed where the focus message is."""

from __future__ import annotations

from hypothesis import find, given, settings

from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.strategies import _PARTITIONS, fault_specs, scenarios, small_base


def test_partitions_are_drawn_one_way_in_both_directions() -> None:
    assert {"point->reservation", "reservation->point", "reservation->gateway"} <= set(_PARTITIONS)
    assert "point|reservation" in _PARTITIONS or "reservation|point" in _PARTITIONS


@settings(max_examples=30)
@given(scenarios(small_base(), max_faults=2))
def test_every_example_has_between_one_and_max_faults(scenario: Scenario) -> None:
    assert 1 <= len(scenario.faults) <= 2


def test_duplicates_arrive_late_on_the_scale_of_the_hold() -> None:
    late = find(fault_specs(["duplicate"]), lambda f: f.params.get("gap", 0.0) >= 10.0)
    assert late.params["gap"] == 10.0  # half of the default 20 s hold


def test_delays_scale_with_the_hold_of_the_base() -> None:
    base = small_base()
    long_holds = base.model_copy(update={"rules": base.rules.model_copy(update={"hold_ttl": 100.0})})
    found = find(
        scenarios(long_holds, kinds=["delay"]),
        lambda s: any(f.params.get("seconds") == 150.0 for f in s.faults),
        settings=settings(database=None, max_examples=500),
    )
    assert any(f.kind == "delay" for f in found.faults)


def test_service_faults_strike_the_service_the_focus_touches_more_often_than_not() -> None:
    targets: list[str] = []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(fault_specs(["commit_failure"], focus=("publish", "PointUsedEvent")))
    def collect(fault: FaultSpec) -> None:
        targets.append(fault.target)

    collect()
    assert targets.count("point") > len(targets) / 2
