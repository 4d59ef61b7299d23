"""What the search draws: partitions in every direction, and at least one fault per example."""

from __future__ import annotations

from hypothesis import given, settings

from concertsim.scenarios.schema import Scenario
from concertsim.strategies import _PARTITIONS, scenarios, small_base


def test_partitions_are_drawn_one_way_in_both_directions() -> None:
    assert {"point->reservation", "reservation->point", "reservation->gateway"} <= set(_PARTITIONS)
    assert "point|reservation" in _PARTITIONS or "reservation|point" in _PARTITIONS


@settings(max_examples=30)
@given(scenarios(small_base(), max_faults=2))
def test_every_example_has_between_one_and_max_faults(scenario: Scenario) -> None:
    assert 1 <= len(scenario.faults) <= 2
