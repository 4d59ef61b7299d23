"""A frozen caller: over a base with replicas, the search may freeze a replica of a service while
its calls hang, long enough to make a zombie of it (seed 8.2)."""

from __future__ import annotations

from hypothesis import given, settings

from concertsim.ablation import ablated
from concertsim.scenarios.schema import FaultSpec
from concertsim.strategies import FAULT_KINDS, crash_targets_of, fault_schedules, frozen_caller, small_base

REPLICATED = crash_targets_of(ablated(small_base(), "services.reservation.replicas=2", "orchestration"))


@settings(max_examples=40, derandomize=True, database=None)
@given(frozen_caller(FAULT_KINDS, 30.0, ("request", "point.use"), REPLICATED))
def test_a_frozen_caller_hangs_a_call_and_freezes_a_replica_of_its_caller_while_the_call_hangs(
    faults: list[FaultSpec],
) -> None:
    hanging, frozen = faults
    assert (hanging.kind, hanging.target) in (("drop", "request"), ("drop", "reply"))
    assert hanging.match is not None and hanging.match.message_type == "point.use"
    assert hanging.duration in (5.0, 10.0)  # over while the hold still has time: the adopter gets through
    assert frozen.kind == "pause" and frozen.target in ("reservation#1", "reservation#2")  # point.use's caller
    assert hanging.at <= frozen.at <= hanging.at + hanging.duration
    assert frozen.duration in (30.0, 60.0)  # past the session timeout


@settings(max_examples=10, derandomize=True, database=None)
@given(frozen_caller(FAULT_KINDS, 30.0, ("request", "point.use"), crash_targets_of(small_base())))
def test_a_frozen_caller_needs_replicas_of_the_caller(faults: list[FaultSpec]) -> None:
    assert faults == []


@settings(max_examples=10, derandomize=True, database=None)
@given(frozen_caller(("crash", "pause"), 30.0, ("request", "point.use"), REPLICATED))
def test_a_frozen_caller_needs_lost_messages(faults: list[FaultSpec]) -> None:
    assert faults == []


def test_a_replicated_base_has_some_schedules_freeze_the_caller_of_a_hanging_call() -> None:
    seen: list[tuple[FaultSpec, ...]] = []

    @settings(max_examples=60, derandomize=True, database=None)
    @given(fault_schedules(FAULT_KINDS, crash_targets=REPLICATED, hold_ttl=20.0))
    def draw(faults: tuple[FaultSpec, ...]) -> None:
        seen.append(faults)

    draw()
    frozen = [s for s in seen if any(f.kind == "pause" and f.duration >= 30.0 and any(
        h.kind == "drop" and h.at <= f.at <= h.at + h.duration for h in s) for f in s)]
    assert frozen
