"""Zombies (seed 8.2): a replica that stops heartbeating is evicted from its consumer group after
the session timeout while it may still be running; each rebalance is a new generation and stops
the world; a zombie's offset commits, relay publishes, saga recovery and saga steps carry a stale
generation, fencing token or driver id and are refused with ``design.fencing``, applied without it:
absorbed, except a saga driver's step taken past its hold's deadline, which refunds a sold seat."""

from __future__ import annotations

from functools import cache

import pytest

from concertsim.api import RunOutcome, run
from concertsim.sim.infrastructure.trace import TraceRecord
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.system import build_system
from tests.conftest import small_scenario

# Reservation#1 holds the relay and job leases from the start; concert#1 consumes partitions 0 and 3.
REPLICATED = ("services.reservation.replicas=3", "services.concert.replicas=3", "broker.session_timeout=10")
# Both freeze at 5 s for 20 s: their last heartbeats are at 3 s, their sessions end at 13 s (seen at
# the heartbeat of 15 s), they resume at 25 s and hear that they were evicted at the heartbeat of 27 s.
PAUSED = ("faults=[{at: 5, kind: pause, target: 'reservation#1', duration: 20},"
          " {at: 5, kind: pause, target: 'concert#1', duration: 20}]")


@cache
def outcome(*overrides: str) -> RunOutcome:
    return run(small_scenario(*overrides))


def records(result: RunOutcome, kind: str, party: str | None = None) -> list[TraceRecord]:
    return [r for r in result.result.trace.of_kind(kind) if party is None or r.party == party]


def rebalances(result: RunOutcome, group: str) -> list[TraceRecord]:
    return [r for r in records(result, "broker.rebalance") if r.data["group"] == group]


def test_a_paused_replica_is_evicted_after_the_session_timeout_and_its_partitions_move_while_it_is_paused() -> None:
    result = outcome(*REPLICATED, PAUSED)
    left = next(r for r in rebalances(result, "concert") if "left" in r.data["reason"])
    assert left.data["reason"] == "concert#1 left (session timeout)"
    assert 13.0 <= left.at < 25.0, "evicted after the session timeout, while still paused"
    assert left.data["generation"] == 2 and left.data["members"] == ["concert#2", "concert#3"]
    assert {m[1] for m in left.data["moved"] if m[2] == "concert#1"} == {0, 3}
    handled_by_others = [r for r in records(result, "consumer.handled") if r.data["group"] == "concert"
                         and r.party != "concert#1" and left.at < r.at < 25.0]
    assert handled_by_others, "the partitions are consumed by the members left while concert#1 is paused"
    assert not [r for r in records(result, "consumer.handled", "concert#1") if 5.0 < r.at < 25.0]


def test_a_slow_replica_keeps_heartbeating_and_its_partitions() -> None:
    slow = "faults=[{at: 5, kind: slow, target: 'concert#1', duration: 30, params: {factor: 50}}]"
    result = outcome(*REPLICATED, slow)
    assert [r.data["reason"] for r in rebalances(result, "concert")] == ["start"]


def test_a_resumed_zombies_offset_commit_is_refused_and_its_relay_publishes_nothing() -> None:
    result = outcome(*REPLICATED, PAUSED)
    refused = records(result, "consumer.commit_refused", "concert#1")
    assert refused and all(25.0 <= r.at < 27.0 for r in refused)
    assert refused[0].data["generation"] == 1 and refused[0].data["current"] > 1
    assert not records(result, "consumer.stale_commit")
    fenced = records(result, "lease.fenced", "reservation#1")
    assert fenced and fenced[0].data["what"] == "publish" and fenced[0].at == pytest.approx(25.0)
    assert not [r for r in records(result, "broker.append", "reservation#1") if r.at >= 5.0]
    rejoined = [r for r in rebalances(result, "concert") if "rejoined" in r.data["reason"]]
    assert rejoined and "offset commit refused" in rejoined[0].data["reason"]
    assert result.violated == []


def test_without_fencing_the_zombies_stale_commits_and_publishes_are_applied() -> None:
    result = outcome(*REPLICATED, "design.fencing=false", PAUSED)
    assert not records(result, "consumer.commit_refused") and not records(result, "lease.fenced")
    stale = records(result, "consumer.stale_commit", "concert#1")
    assert stale and all(25.0 <= r.at < 27.0 for r in stale)
    assert records(result, "lease.stale_token", "reservation#1")
    republished = [r for r in records(result, "broker.append", "reservation#1") if 25.0 <= r.at < 27.0]
    assert republished, "the zombie relay publishes what it held when it froze"
    appended = [r.data["event_id"] for r in records(result, "broker.append")]
    assert any(appended.count(r.data["event_id"]) > 1 for r in republished)
    # The inbox skips the copies: the zombie's actions are absorbed here (docs/design.md, "Replicas").
    assert result.violated == []


def test_each_rebalance_is_a_new_generation_and_stops_the_world_for_the_rebalance_time() -> None:
    result = outcome(*REPLICATED, "broker.rebalance_time=4", PAUSED)
    concert = rebalances(result, "concert")
    assert [r.data["generation"] for r in concert] == list(range(1, len(concert) + 1))
    left = concert[1]
    assert left.data["stop_the_world"] == 4.0
    handled = [r.at for r in records(result, "consumer.handled") if r.data["group"] == "concert"]
    assert not [at for at in handled if left.at < at < left.at + 4.0], "every member stops consuming"
    assert [at for at in handled if left.at + 4.0 <= at < 25.0], "and starts again with the new assignment"


def test_an_offset_commit_of_the_current_generation_may_move_the_offset_back() -> None:
    system = build_system(World(small_scenario(*REPLICATED), 1))
    group, member = system.groups["concert"], system.replicas["concert"][0]
    assert group.commit(member, "concert", "reservation-events", 0, 7)
    assert group.commit(member, "concert", "reservation-events", 0, 5)
    assert system.broker.committed("concert", "reservation-events", 0) == 5


def test_a_zombie_commit_from_a_stale_generation_is_refused_only_with_fencing() -> None:
    for fencing, committed in ((True, 7), (False, 3)):
        system = build_system(World(small_scenario(*REPLICATED, f"design.fencing={fencing}"), 1))
        group = system.groups["concert"]
        zombie, other = system.replicas["concert"][0], system.replicas["concert"][1]
        assert group.commit(zombie, "concert", "reservation-events", 0, 7)
        group.members = [other]
        group.generation += 1
        group.member_generation[other.name] = group.generation
        assert group.commit(zombie, "concert", "reservation-events", 0, 3) is not fencing
        assert system.broker.committed("concert", "reservation-events", 0) == committed


def test_the_replicas_built_in_sets_a_session_timeout_its_crash_outlasts() -> None:
    from concertsim.scenarios.loader import load_builtin

    scenario = load_builtin("replicas")
    assert scenario.broker.session_timeout == 10.0
    crash = next(f for f in scenario.faults if f.kind == "crash")
    assert crash.duration > scenario.broker.session_timeout


def test_the_renamed_rebalance_delay_is_refused_with_its_new_name() -> None:
    from concertsim.scenarios.loader import ScenarioError

    with pytest.raises(ScenarioError, match="rebalance_delay is now session_timeout"):
        small_scenario("broker.rebalance_delay=3")


# The search's minimal case: one buyer; Point's deduction requests are lost for 10 s, so
# reservation#2, driving the saga, is still retrying when it freezes at 9 s for 15 s. Evicted at
# 18 s, its saga is adopted by the recovery job on reservation#1, which deducts and confirms.
ZOMBIE_DRIVER = (
    "design.payment_flow=orchestration", "services.reservation.replicas=2", "broker.session_timeout=10",
    "network.call_timeout=2", "workload.users=1",
    ("faults=[{at: 0, kind: drop, target: request, duration: 10, match: {message_type: point.use}},"
     " {at: 9, kind: pause, target: 'reservation#2', duration: 15}]"),
)


def test_the_recovery_job_adopts_the_sagas_of_an_evicted_replica_while_it_is_paused() -> None:
    result = outcome(*ZOMBIE_DRIVER)
    left = next(r for r in rebalances(result, "reservation") if "left" in r.data["reason"])
    assert left.data["reason"] == "reservation#2 left (session timeout)" and left.at < 24.0
    deductions = [r for r in records(result, "call.send") if r.data["endpoint"] == "point.use"]
    assert {r.party for r in deductions if r.at < 9.0} == {"reservation#2"}
    assert [r for r in deductions if r.party == "reservation#1" and left.at <= r.at < 24.0], \
        "the saga is driven on by reservation#1 while its first driver is frozen"


def test_a_zombie_saga_drivers_step_is_refused_once_its_saga_was_adopted() -> None:
    result = outcome(*ZOMBIE_DRIVER)
    fenced = records(result, "saga.step_fenced", "reservation#2")
    assert fenced and fenced[0].at >= 24.0 and fenced[0].data["driver"] == "reservation#1@0"
    assert not records(result, "saga.stale_step")
    assert result.violated == []


def test_without_fencing_a_zombie_that_resumes_before_the_deadline_retries_and_its_stale_step_is_absorbed() -> None:
    from concertsim.models import orchestration

    result = outcome(*ZOMBIE_DRIVER, "design.fencing=false")
    stale = records(result, "saga.stale_step", "reservation#2")
    assert stale and stale[0].data["state"] == "CONFIRMED" and stale[0].data["believed"] == "DEDUCTING"
    assert not records(result, "saga.step_fenced")
    # Resumed at 24 s with its hold's deadline (about 25.7 s) still ahead, it asks Point again under
    # the payment's key, is answered with reservation#1's deduction, and confirms the confirmed
    # reservation again: the idempotency key absorbs this one.
    sagas = result.result.table("reservation", orchestration.SAGAS)
    assert [saga.state for saga in sagas.values()] == [orchestration.SagaState.CONFIRMED]
    assert result.violated == []


# The same, frozen for 30 s: reservation#2 resumes at 39 s, past its hold's deadline, with its
# last deduction request unanswered. Its adopter deducted and confirmed at 20 s.
ZOMBIE_PAST_DEADLINE = (*ZOMBIE_DRIVER[:-1], ZOMBIE_DRIVER[-1].replace("duration: 15", "duration: 30"))


def test_a_frozen_driver_notices_its_unanswered_call_on_resuming_and_asks_no_more_past_the_deadline() -> None:
    result = outcome(*ZOMBIE_PAST_DEADLINE)
    resumed = records(result, "host.resume", "reservation#2")[0].at
    assert resumed == pytest.approx(39.0)
    assert not [r for r in records(result, "call.send", "reservation#2") if r.at >= resumed]
    fenced = records(result, "saga.step_fenced", "reservation#2")
    assert fenced and fenced[0].at == pytest.approx(resumed)
    assert result.violated == []


def test_without_fencing_a_zombie_driver_past_its_deadline_compensates_a_confirmed_saga_refunding_a_sold_seat() -> None:
    from concertsim.models import orchestration

    result = outcome(*ZOMBIE_PAST_DEADLINE, "design.fencing=false")
    stale = records(result, "saga.stale_step", "reservation#2")
    assert stale and stale[0].data["state"] == "CONFIRMED" and stale[0].data["believed"] == "DEDUCTING"
    # No answer by the deadline: it compensates, as its own calls tell it; the reservation stays
    # confirmed (a confirmed reservation is never failed) and Point gives the seat's points back.
    refunds = [r for r in records(result, "call.send", "reservation#2") if r.data["endpoint"] == "point.refund"]
    assert refunds and refunds[0].at >= stale[0].at
    sagas = result.result.table("reservation", orchestration.SAGAS)
    assert [saga.state for saga in sagas.values()] == [orchestration.SagaState.COMPENSATED]
    assert result.violated == ["no-orphaned-deduction"]
