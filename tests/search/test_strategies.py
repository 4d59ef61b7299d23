"""What the search draws: partitions in every direction, at least one fault per example, a server's
trouble and a hung call on the hold's scale (its caller restarting during the hang over a
saga-driven base), copies that overlap their original, buyers who pay at the end of their hold,
snapshots after every event over event-sourced accounts, and, over a base that migrates Point, a
plan ramping while the users pay and its copy stalled over the ramp; over a base that moves Queue
or Concert, its copy stalled over the cutover and the rollback while a call its clients retry loses
its answers."""

from __future__ import annotations

from hypothesis import given, settings

from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.migration_plan import MigrationPlan
from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.strategies import (
    FAULT_KINDS,
    Moves,
    call_span_of,
    copy_trouble,
    fault_specs,
    hung_call,
    migration_plans,
    plan_moves,
    scenarios,
    server_trouble,
    small_base,
    storage_settings,
)
from concertsim.strategies.targets import _PARTITIONS


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


@settings(max_examples=60, derandomize=True, database=None)
@given(migration_plans(MigrationPlan(catch_up=False, fence=False), workload_duration=60.0, busiest=15.0))
def test_a_drawn_plan_ramps_while_the_users_are_busiest_and_keeps_its_safeguards(plan: MigrationPlan) -> None:
    assert not plan.catch_up and not plan.fence  # the switches stay as the base has them
    if not plan.steps:
        return  # the base's own plan (the default steps), as it is
    actions = [step.action for step in plan.steps]
    assert actions in (["copy", "shift", "cutover"], ["copy", "verify", "shift", "verify", "cutover"])
    shift = next(step for step in plan.steps if step.action == "shift")
    assert 0 <= shift.at <= 15.0 and 2.0 <= shift.duration <= 20.0
    assert plan.steps[-1].at <= 60.0


_PLANS: list[tuple[str, ...]] = []


@settings(max_examples=100, derandomize=True, database=None)
@given(scenarios(_migrating_base(), kinds=("drop",)))
def _draw_migrations(scenario: Scenario) -> None:
    assert scenario.migration is not None
    steps = scenario.migration.steps_for(scenario.workload.duration)
    shift = next(step for step in steps if step.action == "shift")
    charge_lost = any(f.target == "reply" and f.match is not None and f.match.message_type == "point.charge"
                      for f in scenario.faults)
    _PLANS.append(("retimed" if scenario.migration.steps else "base",
                   "early" if shift.at <= scenario.workload.flash_window + 10.0 else "late",
                   "copy trouble" if charge_lost else ""))


def test_a_base_with_a_plan_has_its_ramp_drawn_where_the_users_pay_and_the_copy_stalled_over_it() -> None:
    """The default plan ramps over the middle of the workload, once a small crowd has paid; the
    search re-times most plans into the crowd and stalls the copy while top-ups' answers are lost
    over the ramp (what a move without catching up breaks)."""
    _draw_migrations()
    assert ("base", "late", "") in _PLANS  # the base's plan is still drawn as it is
    retimed = [p for p in _PLANS if p[0] == "retimed"]
    assert len(retimed) > len(_PLANS) // 2 and all(p[1] == "early" for p in retimed)
    assert any(p == ("retimed", "early", "copy trouble") for p in _PLANS)


@settings(max_examples=40, derandomize=True, database=None)
@given(copy_trouble(("drop",), (12.0, 22.0)))
def test_copy_trouble_stalls_the_copy_over_the_moves_while_top_ups_lose_their_answers(faults: list[FaultSpec]) -> None:
    stalled, unanswered = faults
    assert (stalled.kind, stalled.target, stalled.match and stalled.match.message_type) == \
        ("drop", "request", "point.replicate")
    assert (unanswered.kind, unanswered.target, unanswered.match and unanswered.match.message_type) == \
        ("drop", "reply", "point.charge")
    assert stalled.at == unanswered.at and 10.0 <= stalled.at <= 22.0  # from just before the first move
    assert stalled.duration == unanswered.duration >= 10.0  # longer than the client's timeout (5 s)


@settings(max_examples=10, derandomize=True, database=None)
@given(copy_trouble(("crash", "delay"), (12.0, 22.0)))
def test_copy_trouble_needs_lost_messages(faults: list[FaultSpec]) -> None:
    assert faults == []


@settings(max_examples=40, derandomize=True, database=None)
@given(migration_plans(MigrationPlan(service="queue"), workload_duration=60.0, busiest=15.0))
def test_a_drawn_queue_plan_cuts_its_line_over_at_once_while_users_wait(plan: MigrationPlan) -> None:
    if not plan.steps:
        return
    actions = [step.action for step in plan.steps]
    assert actions in (["copy", "cutover"], ["copy", "verify", "cutover"])
    assert 0 <= plan.steps[-1].at <= 15.0


@settings(max_examples=40, derandomize=True, database=None)
@given(copy_trouble(("drop",), Moves(5.0, 10.0, "queue")))
def test_copy_trouble_over_a_queue_move_stalls_its_copy_while_token_requests_lose_their_answers(
    faults: list[FaultSpec],
) -> None:
    stalled, unanswered = faults
    assert (stalled.target, stalled.match and stalled.match.message_type) == ("request", "queue.replicate")
    assert (unanswered.target, unanswered.match and unanswered.match.message_type) == ("reply", "queue.issue_token")
    assert stalled.at == unanswered.at and 3.0 <= stalled.at <= 10.0  # from just before the cutover to the rollback


@settings(max_examples=40, derandomize=True, database=None)
@given(copy_trouble(("drop",), Moves(5.0, 5.0, "concert")))
def test_copy_trouble_over_a_concert_move_stalls_its_copy_while_holds_lose_their_seat_checks(
    faults: list[FaultSpec],
) -> None:
    stalled, unanswered = faults
    assert (stalled.target, stalled.match and stalled.match.message_type) == ("request", "concert.replicate")
    assert (unanswered.target, unanswered.match and unanswered.match.message_type) == ("reply", "concert.check_seat")
    assert stalled.duration == unanswered.duration >= 10.0  # longer than the client's timeout (5 s)


@settings(max_examples=40, derandomize=True, database=None)
@given(copy_trouble(("drop",), Moves(5.0, 5.0, "reservation")))
def test_copy_trouble_over_a_reservation_move_stalls_its_copy_while_holds_lose_their_answers(
    faults: list[FaultSpec],
) -> None:
    stalled, unanswered = faults
    assert (stalled.target, stalled.match and stalled.match.message_type) == ("request", "reservation.replicate")
    assert (unanswered.target, unanswered.match and unanswered.match.message_type) == ("reply", "reservation.hold")


def test_a_plan_that_moves_at_once_moves_from_its_cutover_to_its_rollback() -> None:
    plan = MigrationPlan.model_validate({"service": "queue", "steps": [
        {"at": 0, "action": "copy"}, {"at": 5, "action": "cutover"}, {"at": 10, "action": "rollback"}]})
    moves = plan_moves(plan, 60.0)
    assert moves == (5.0, 10.0) and moves.service == "queue"
    assert plan_moves(MigrationPlan(service="concert"), 60.0) == (30.0, 30.0)  # the default plan's cutover
    point = plan_moves(MigrationPlan(), 60.0)
    assert point == (12.0, 36.0) and point.service == "point"  # the default plan's shift


_AIMED: dict[str, set[str | None]] = {"queue": set(), "concert": set(), "reservation": set()}


def _moving(service: str) -> Scenario:
    from concertsim.ablation import ablated

    stage = {"queue": "point_split", "concert": "queue_split", "reservation": "concert_split"}[service]
    return ablated(small_base(), "migration.acks=true", "sync", (f"design.topology={stage}",
                                                                  f"migration.service={service}"))


@settings(max_examples=100, derandomize=True, database=None)
@given(scenarios(_moving("queue"), kinds=("drop",)))
def _draw_queue_moves(scenario: Scenario) -> None:
    _AIMED["queue"].update(f.match.message_type for f in scenario.faults if f.match is not None and f.target == "reply")


@settings(max_examples=100, derandomize=True, database=None)
@given(scenarios(_moving("concert"), kinds=("drop",)))
def _draw_concert_moves(scenario: Scenario) -> None:
    _AIMED["concert"].update(f.match.message_type for f in scenario.faults if f.match is not None and f.target == "reply")


@settings(max_examples=100, derandomize=True, database=None)
@given(scenarios(_moving("reservation"), kinds=("drop",)))
def _draw_reservation_moves(scenario: Scenario) -> None:
    _AIMED["reservation"].update(f.match.message_type for f in scenario.faults
                                 if f.match is not None and f.target == "reply")


def test_a_base_moving_queue_or_concert_has_copy_trouble_aimed_at_its_own_move() -> None:
    """Copy trouble used to be drawn over Point's moves only: a Queue or Concert plan's cutover and
    rollback never met a stalled copy and a retried call at once."""
    _draw_queue_moves()
    _draw_concert_moves()
    assert "queue.issue_token" in _AIMED["queue"] and "point.charge" not in _AIMED["queue"]
    assert "concert.check_seat" in _AIMED["concert"] and "point.charge" not in _AIMED["concert"]


def test_a_base_moving_reservation_has_copy_trouble_aimed_at_its_own_move() -> None:
    """A Reservation plan's cutover meets a stalled copy and a hold whose answer is lost, which
    the client sends again under the same idempotency key, on the other side of the move."""
    _draw_reservation_moves()
    assert "reservation.hold" in _AIMED["reservation"] and "point.charge" not in _AIMED["reservation"]


_RESTARTS: list[tuple[float, ...]] = []


@settings(max_examples=60, derandomize=True, database=None)
@given(hung_call(FAULT_KINDS, 30.0, ("reply", "point.use"), hold_ttl=20.0, call_span=1.0, caller_restarts=True))
def _draw_restarting_callers(faults: list[FaultSpec]) -> None:
    hanging, resent, *restarted = faults
    assert hanging.kind == "drop" and resent.kind == "duplicate"
    for restart in restarted:
        assert (restart.kind, restart.target) == ("crash", "reservation")  # point.use's caller
        assert 0.0 < restart.duration <= 5.0  # a restart, not an outage
        _RESTARTS.append((round(restart.at - hanging.at, 1),))
    if not restarted:
        _RESTARTS.append(())


def test_a_hung_calls_caller_may_restart_while_its_call_is_in_doubt() -> None:
    """One hung call in two has its caller restart a quarter or half a hold into the hang (well
    before a 1.5-hold hang ends); the test fails if no hung call has it, or if every one has."""
    _draw_restarting_callers()
    assert () in _RESTARTS
    assert {r for r in _RESTARTS if r} == {(5.0,), (10.0,)}


@settings(max_examples=20, derandomize=True, database=None)
@given(hung_call(("drop", "duplicate"), 30.0, ("reply", "point.use"), hold_ttl=20.0, call_span=1.0,
                 caller_restarts=True))
def test_a_hung_calls_caller_restarts_only_if_crashes_are_drawn(faults: list[FaultSpec]) -> None:
    assert [f.kind for f in faults] == ["drop", "duplicate"]


_ORCHESTRATED_CRASHES: list[bool] = []


@settings(max_examples=200, derandomize=True, database=None)
@given(scenarios(load_builtin("orchestrated-payments")))
def _draw_orchestrated(scenario: Scenario) -> None:
    hung = [f for f in scenario.faults if f.kind == "drop" and f.duration >= 1.5 * scenario.rules.hold_ttl]
    _ORCHESTRATED_CRASHES.extend(
        any(f.kind == "crash" and f.target == "reservation" and h.at < f.at < h.at + h.duration
            for f in scenario.faults)
        for h in hung
    )


def test_over_a_saga_driven_base_a_hung_deduction_may_lose_its_driver() -> None:
    """Over the orchestration flow, some hung deductions meet a restart of Reservation, whose saga
    drivers made them; the test fails if none does, since then only a rare coincidence of two
    drawn faults reaches what the recovery job must resume."""
    _draw_orchestrated()
    assert any(_ORCHESTRATED_CRASHES) and not all(_ORCHESTRATED_CRASHES)


@settings(max_examples=200, derandomize=True, database=None)
@given(scenarios(small_base(), kinds=("drop", "duplicate", "crash")))
def test_over_a_flow_without_sagas_a_hung_call_has_no_restart_of_its_own(scenario: Scenario) -> None:
    """The sync flow draws as before the restart: at most one crash beside a hung call, and never
    one a quarter or half a hold into its hang, from the hung call itself."""
    hung = [f for f in scenario.faults if f.kind == "drop" and f.duration >= 1.5 * scenario.rules.hold_ttl]
    for h in hung:
        own = [f for f in scenario.faults if f.kind == "crash" and f.duration == 5.0
               and round(f.at - h.at, 1) in (0.25 * scenario.rules.hold_ttl, 0.5 * scenario.rules.hold_ttl)]
        assert not own


@settings(max_examples=40, derandomize=True, database=None)
@given(hung_call(FAULT_KINDS, 30.0, ("reply", "point.use"), hold_ttl=180.0, call_span=1.0, caller_restarts=True,
                 until=60.0))
def test_a_hung_calls_caller_never_restarts_after_the_workload_ends(faults: list[FaultSpec]) -> None:
    """A restart a quarter or half of a long hold into the hang can fall after a short workload's
    end, which a scenario refuses (a fault that would never strike)."""
    assert all(f.at <= 60.0 for f in faults)


def test_a_saga_driven_base_with_holds_longer_than_its_workload_draws_valid_scenarios() -> None:
    from concertsim.ablation import ablated

    base = ablated(small_base(), "design.payment_flow=orchestration", "orchestration", ("rules.hold_ttl=180",))

    @settings(max_examples=60, derandomize=True, database=None)
    @given(scenarios(base))
    def within_the_workload(scenario: Scenario) -> None:
        assert all(f.at <= scenario.workload.duration for f in scenario.faults)

    within_the_workload()
