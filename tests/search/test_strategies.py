"""What the search draws: partitions in every direction, at least one fault per example, a server's
trouble and a hung call on the hold's scale, copies that overlap their original, and buyers who pay
at the end of their hold."""

from __future__ import annotations

from hypothesis import given, settings

from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.strategies import (
    _PARTITIONS,
    FAULT_KINDS,
    call_span_of,
    fault_specs,
    hung_call,
    scenarios,
    server_trouble,
    small_base,
    storage_settings,
)


def test_partitions_are_drawn_one_way_in_both_directions() -> None:
    assert {"point->reservation", "reservation->point", "reservation->gateway"} <= set(_PARTITIONS)
    assert "point|reservation" in _PARTITIONS or "reservation|point" in _PARTITIONS


@settings(max_examples=30)
@given(scenarios(small_base(), max_faults=2))
def test_every_example_has_between_one_and_max_faults(scenario: Scenario) -> None:
    assert 1 <= len(scenario.faults) <= 2


@settings(max_examples=60, derandomize=True)
@given(server_trouble(FAULT_KINDS, 30.0, ("delivery", "PointUsedEvent"), hold_ttl=20.0))
def test_server_trouble_fails_a_calls_server_for_longer_than_a_hold_while_its_requests_come_late(
    faults: list[FaultSpec],
) -> None:
    failing, late = faults
    assert failing.kind == "commit_failure" and failing.params.get("rate", 1.0) == 1.0
    assert failing.duration >= 1.5 * 20.0  # longer than the retries a payment makes within its hold
    assert late.target == "request" and late.match is not None
    assert late.match.message_type in ("point.use", "reservation.pay")
    assert failing.target == late.match.message_type.partition(".")[0]
    assert late.at == failing.at and late.duration == 0.0  # from the failure's start until heal
    lateness = late.params.get("gap", late.params.get("seconds"))
    assert lateness is not None and lateness >= 20.0  # lands after the failure can have ended


@settings(max_examples=20, derandomize=True)
@given(server_trouble(FAULT_KINDS, 30.0, ("reply", "point.use"), hold_ttl=20.0))
def test_server_trouble_aims_at_the_focus_call(faults: list[FaultSpec]) -> None:
    assert [(f.kind, f.target) for f in faults][0] == ("commit_failure", "point")
    assert faults[1].match is not None and faults[1].match.message_type == "point.use"


@settings(max_examples=10, derandomize=True)
@given(server_trouble(("crash", "delay"), 30.0, ("reply", "point.use"), hold_ttl=20.0))
def test_server_trouble_needs_failing_commits_and_late_messages(faults: list[FaultSpec]) -> None:
    assert faults == []


@settings(max_examples=40, derandomize=True)
@given(hung_call(FAULT_KINDS, 30.0, ("request", "point.use"), hold_ttl=20.0, call_span=1.0))
def test_a_hung_call_loses_the_deduction_while_the_payment_is_resent_before_it_gives_up(
    faults: list[FaultSpec],
) -> None:
    hanging, resent = faults
    assert hanging.kind == "drop" and hanging.target in ("request", "reply")
    assert hanging.match is not None and hanging.match.message_type == "point.use"
    assert (hanging.match.skip, hanging.match.count, hanging.match.rate) == (0, None, 1.0)  # every attempt
    assert hanging.duration >= 1.5 * 20.0
    assert resent.kind == "duplicate" and resent.target == "request"
    assert resent.match is not None and resent.match.message_type == "reservation.pay"  # point.use's caller
    assert resent.params == {"gap": 1.0} and (resent.at, resent.duration) == (hanging.at, hanging.duration)


@settings(max_examples=10, derandomize=True)
@given(hung_call(FAULT_KINDS, 30.0, ("delivery", "PointUsedEvent"), hold_ttl=20.0, call_span=1.0))
def test_a_hung_call_away_from_a_service_call_hangs_the_deduction(faults: list[FaultSpec]) -> None:
    assert [f.match.message_type for f in faults if f.match is not None] == ["point.use", "reservation.pay"]


@settings(max_examples=20, derandomize=True)
@given(hung_call(FAULT_KINDS, 30.0, ("reply", "point.use"), hold_ttl=20.0, call_span=1.0, answered_by_event=True))
def test_a_hung_call_answered_by_an_event_holds_that_event_back_on_the_holds_scale(faults: list[FaultSpec]) -> None:
    held_back, resent = faults
    assert (held_back.kind, held_back.target) == ("delay", "delivery")
    assert held_back.match is not None and held_back.match.message_type == "PointUsedEvent"
    assert held_back.params["seconds"] >= 20.0  # the payment's answer comes after its hold
    assert resent.match is not None and resent.match.message_type == "reservation.pay"


@settings(max_examples=10, derandomize=True)
@given(hung_call(("crash", "drop"), 30.0, ("reply", "point.use"), hold_ttl=20.0, call_span=1.0))
def test_a_hung_call_needs_lost_and_copied_messages(faults: list[FaultSpec]) -> None:
    assert faults == []


def test_a_calls_span_is_its_timeout_times_its_attempts() -> None:
    assert call_span_of(small_base()) == 1.0  # 0.5 s x (1 retry + 1)


_GAPS: set[float | None] = set()


@settings(max_examples=150, derandomize=True, database=None)
@given(fault_specs(("duplicate",), call_span=0.7))
def _draw_duplicates(fault: FaultSpec) -> None:
    _GAPS.add(fault.params.get("gap"))


def test_a_duplicate_comes_at_once_seconds_late_or_while_the_original_is_served() -> None:
    _draw_duplicates()
    assert _GAPS == {None, 2.0, 0.7}


_THINK_TIMES: list[tuple[str, float | None, float | None]] = []


@settings(max_examples=100, derandomize=True, database=None)
@given(scenarios(small_base()))
def _draw_think_times(scenario: Scenario) -> None:
    think = scenario.workload.think_time
    _THINK_TIMES.append((think.kind, getattr(think, "low", None), getattr(think, "high", None)))


def test_some_buyers_pay_in_the_last_quarter_of_their_hold() -> None:
    _draw_think_times()
    racing = [t for t in _THINK_TIMES if t[0] == "uniform"]
    assert racing, "no workload with buyers paying at the end of their hold"
    assert set(racing) == {("uniform", 15.0, 20.0)}  # the last quarter of a 20 s hold


def _migrating_base() -> Scenario:
    from concertsim.ablation import ablated

    return ablated(small_base(), "migration.acks=false", "sync", ("design.topology=monolith",))


@settings(max_examples=200, derandomize=True, database=None)
@given(scenarios(_migrating_base(), kinds=("drop",)))
def test_a_base_with_a_migration_plan_may_aim_at_its_copy(scenario: Scenario) -> None:
    """Over a base that migrates Point, some examples strike the copy's batches; the test fails if
    none does (a search that could never lose a batch could never find what the copy's safeguards
    prevent)."""
    _REPLICATE_SEEN.update(f.match.message_type for f in scenario.faults if f.match is not None)


_REPLICATE_SEEN: set[str | None] = set()


def test_the_copy_of_a_migration_was_aimed_at() -> None:
    test_a_base_with_a_migration_plan_may_aim_at_its_copy()
    assert "point.replicate" in _REPLICATE_SEEN


_SNAPSHOTS: set[object] = set()


@settings(max_examples=40, derandomize=True, database=None)
@given(storage_settings(load_builtin("event-sourced-point")))
def _draw_snapshot_intervals(storage: dict[str, object]) -> None:
    _SNAPSHOTS.add(storage.get("point_snapshot_every"))


def test_event_sourced_accounts_are_searched_with_a_snapshot_after_every_event_too() -> None:
    _draw_snapshot_intervals()
    assert _SNAPSHOTS == {None, 1}  # the base's interval (2), or after every event


@settings(max_examples=10, derandomize=True, database=None)
@given(storage_settings(small_base()))
def test_a_base_without_event_sourcing_varies_no_storage(storage: dict[str, object]) -> None:
    assert storage == {}
