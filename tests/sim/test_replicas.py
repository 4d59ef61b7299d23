"""Replicas of a service (seed 8.2): the load balancer spreads calls over them, the consumer group
spreads partitions over the replicas up and moves a crashed one's partitions after the session
timeout (redelivering what it handled without committing), one relay per outbox keeps the commit
order that competing relays lose, and scheduled jobs run once per service."""

from __future__ import annotations

from functools import cache

import pytest

from concertsim.api import RunOutcome, run
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.infrastructure.trace import TraceRecord
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.faults import FaultInjector
from concertsim.sim.run.system import System, build_system
from tests.cli.invoking import cli, refused
from tests.conftest import small_scenario

REPLICATED = ("services.reservation.replicas=3", "services.point.replicas=3")


@cache
def outcome(*overrides: str) -> RunOutcome:
    return run(small_scenario(*overrides))


def records(result: RunOutcome, kind: str) -> list[TraceRecord]:
    return list(result.result.trace.of_kind(kind))


def rebalances(result: RunOutcome, group: str) -> list[TraceRecord]:
    return [r for r in records(result, "broker.rebalance") if r.data["group"] == group]


# --- naming and load balancing -------------------------------------------------------------------


def test_one_replica_keeps_the_service_names_and_never_rebalances() -> None:
    result = outcome()
    assert not any("#" in r.party for r in result.result.trace.records)
    assert records(result, "broker.rebalance") == []
    assert result.metrics["replicas"] is None


@pytest.mark.parametrize("policy", ["round_robin", "least_outstanding"])
def test_the_balancer_spreads_calls_over_every_replica(policy: str) -> None:
    result = outcome(*REPLICATED, f"network.load_balancing={policy}")
    assert result.violated == []
    for service in ("reservation", "point"):
        served = result.metrics["replicas"]["services"][service]["served"]
        assert sorted(served) == [f"{service}#{n}" for n in (1, 2, 3)]
        assert min(served.values()) > 0.25 * sum(served.values()), served


def test_round_robin_takes_the_replicas_in_turn() -> None:
    served = outcome(*REPLICATED).metrics["replicas"]["services"]["point"]["served"]
    counts = list(served.values())
    assert max(counts) - min(counts) <= 1, counts


def test_a_crashed_replica_is_skipped_after_a_call_to_it_timed_out() -> None:
    crash = "faults=[{at: 5, kind: crash, target: 'point#2', duration: 30}]"
    result = outcome(*REPLICATED, crash)
    refused_while_down = [r for r in records(result, "call.refused") if r.party == "point#2"]
    served_while_down = [r for r in records(result, "call.serve") if r.party in ("point#1", "point#3")
                         and 5 < r.at < 35]
    # Without ejection every third call in the 30 s would go to the dead replica.
    assert 0 < len(refused_while_down) < len(served_while_down) / 4, (len(refused_while_down), len(served_while_down))


# --- consumer groups and rebalancing -------------------------------------------------------------


def test_partitions_are_spread_over_the_replicas_from_the_start() -> None:
    start = rebalances(outcome(*REPLICATED), "point")[0]
    assert start.at == 0 and start.data["reason"] == "start"
    owners = {partition: to for _topic, partition, _from, to in start.data["moved"]}
    assert owners == {0: "point#1", 1: "point#2", 2: "point#3", 3: "point#1"}


def test_a_crashed_replicas_partitions_move_after_the_session_timeout_and_back_when_it_returns() -> None:
    crash = "faults=[{at: 10, kind: crash, target: 'point#2', duration: 8}]"
    result = outcome(*REPLICATED, "broker.session_timeout=3", "broker.rebalance_time=0", crash)
    _start, left, joined = rebalances(result, "point")
    # Heartbeats every second (a third of the session timeout): the last one at 9 s, evicted at 12 s.
    assert left.at == pytest.approx(12.0) and left.data["members"] == ["point#1", "point#3"]
    assert [2, "point#2"] not in [[m[1], m[3]] for m in left.data["moved"]]
    assert any(m[2] == "point#2" for m in left.data["moved"])
    assert joined.at == pytest.approx(18.0) and "point#2" in joined.data["members"]
    assert any(m[3] == "point#2" for m in joined.data["moved"])
    assert result.violated == []


def test_a_replica_back_within_the_session_timeout_keeps_its_partitions() -> None:
    crash = "faults=[{at: 10, kind: crash, target: 'point#2', duration: 2}]"
    result = outcome(*REPLICATED, "broker.session_timeout=3", "broker.rebalance_time=0", crash)
    assert [r.data["reason"] for r in rebalances(result, "point")] == ["start"]


# Concert#2's offset commits are lost, then it crashes: after the rebalance concert#1 reads its
# partitions from the group's committed offsets and is delivered again what concert#2 had handled.
_UNCOMMITTED_THEN_CRASH = (
    "services.concert.replicas=2",
    "broker.session_timeout=3",
    ("faults=[{at: 0, kind: drop, target: offset_commit, duration: 40, match: {source: 'concert#2'}},"
     " {at: 30, kind: crash, target: 'concert#2', duration: 20}]"),
)


def test_after_a_rebalance_the_new_owner_is_redelivered_what_the_crashed_replica_did_not_commit() -> None:
    result = outcome(*_UNCOMMITTED_THEN_CRASH)
    assert result.violated == []
    skipped_by_survivor = [r for r in records(result, "consumer.duplicate_skipped")
                           if r.party == "concert#1" and 33 <= r.at < 50]
    assert skipped_by_survivor, "concert#1 should skip, while concert#2 is down, what concert#2 handled"
    assert result.metrics["replicas"]["redeliveries"]["concert"] >= len(skipped_by_survivor)


def test_without_the_inbox_the_redelivery_after_a_rebalance_is_applied_twice() -> None:
    result = outcome(*_UNCOMMITTED_THEN_CRASH, "design.consumer_dedup=false")
    assert "ranking-converges" in result.violated
    again = [r for r in records(result, "consumer.handled") if r.party == "concert#1" and 33 <= r.at < 50]
    handled_by_crashed = {r.data["event_id"] for r in records(result, "consumer.handled")
                          if r.party == "concert#2" and r.at < 30}
    assert any(r.data["event_id"] in handled_by_crashed for r in again)


# --- relays and jobs -----------------------------------------------------------------------------

# Every publish of a SeatReservedEvent is lost for 30 s: the relay holding one retries it.
_SEAT_RESERVED_PUBLISHES_LOST = (
    "faults=[{at: 0, kind: drop, target: publish, duration: 30, match: {message_type: SeatReservedEvent}}]"
)


def publishers(result: RunOutcome, topic: str) -> set[str]:
    return {r.party for r in records(result, "broker.append") if r.data["topic"] == topic}


def test_one_relay_per_outbox_keeps_a_seats_events_in_commit_order() -> None:
    result = outcome(*REPLICATED, _SEAT_RESERVED_PUBLISHES_LOST)
    assert publishers(result, "reservation-events") == {"reservation#1"}
    assert result.violated == []


def test_competing_relays_let_a_seats_later_event_overtake_the_one_being_retried() -> None:
    result = outcome(*REPLICATED, "design.single_relay=false", _SEAT_RESERVED_PUBLISHES_LOST)
    assert len(publishers(result, "reservation-events")) > 1
    assert result.violated == ["seat-view-converges"]


def test_the_relay_lease_moves_to_the_next_replica_when_its_holder_crashes() -> None:
    crash = "faults=[{at: 10, kind: crash, target: 'reservation#1', duration: 0}]"
    result = outcome(*REPLICATED, "broker.session_timeout=3", crash)
    left = next(r for r in rebalances(result, "reservation") if "left" in r.data["reason"])
    assert left.data["lease_from"] == "reservation#1" and left.data["lease"] == "reservation#2"
    later = {r.party for r in records(result, "broker.append")
             if r.data["topic"] == "reservation-events" and r.at > left.at}
    assert later == {"reservation#2"}
    assert result.violated == []


def singletons_running(system: System) -> dict[str, list[str]]:
    """replica -> the relay and jobs running on it now."""
    return {host.name: sorted(n for n, p in host.daemons.items() if p.is_alive and n.startswith(("job:", "relay:")))
            for host in system.replicas["reservation"]}


def test_scheduled_jobs_and_the_relay_run_on_one_replica_and_move_with_its_lease() -> None:
    scenario = small_scenario(*REPLICATED, "design.payment_flow=orchestration", "broker.session_timeout=3",
                              "faults=[{at: 10, kind: crash, target: 'reservation#1', duration: 0}]")
    world = World(scenario, 1)
    system = build_system(world)
    FaultInjector(world, system).schedule(scenario.faults)
    singletons = ["job:hold-expiry-sweeper", "job:saga-recovery", "relay:reservation"]
    world.env.run(until=9)
    assert singletons_running(system) == {"reservation#1": singletons, "reservation#2": [], "reservation#3": []}
    world.env.run(until=12)  # reservation#1 is down, its session not timed out: nobody runs them
    assert singletons_running(system) == {"reservation#1": [], "reservation#2": [], "reservation#3": []}
    world.env.run(until=14)
    assert singletons_running(system) == {"reservation#1": [], "reservation#2": singletons, "reservation#3": []}
    world.env.run(until=16)  # reservation#1 is back: the lease stays where it is
    assert singletons_running(system)["reservation#1"] == []


# --- addressing replicas -------------------------------------------------------------------------


def test_a_fault_naming_a_replica_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"point has 2 replica\(s\), point#1..point#2"):
        small_scenario("services.point.replicas=2", "faults=[{at: 1, kind: crash, target: 'point#3'}]")
    message = refused(cli("run", "small-opening", "--set", "services.point.replicas=2",
                          "--set", "faults=[{at: 1, kind: crash, target: 'point#3'}]"))
    assert "point#3" in message and "2 replica(s)" in message


def test_a_crash_of_the_service_strikes_every_replica() -> None:
    result = outcome(*REPLICATED, "faults=[{at: 10, kind: crash, target: point, duration: 5}]")
    crashed = {r.party for r in records(result, "host.crash")}
    assert crashed == {"point#1", "point#2", "point#3"}


def test_an_orchestrated_payment_retried_on_another_replica_keeps_one_driver() -> None:
    # Point's replies are lost, so buyers ask again and their retries reach other replicas than
    # the one driving the saga; a second driver would take a finished saga back to COMPENSATING.
    lost_replies = "faults=[{at: 0, kind: drop, target: reply, duration: 20, match: {message_type: point.use}}]"
    result = outcome("design.payment_flow=orchestration", "services.reservation.replicas=3", lost_replies)
    assert result.violated == []
    drivers = {r.party for r in records(result, "call.send") if r.data["endpoint"] == "point.use"}
    assert len(drivers) > 1, "the sagas should be driven by several replicas"


def test_a_partition_of_a_service_cuts_every_replica_of_it() -> None:
    system = build_system(World(small_scenario(*REPLICATED), 1))
    system.network.blocked.add(("point", "broker"))
    assert not system.network.reachable("point#2", "broker")
    assert not system.network.reachable("point", "broker")
    assert system.network.reachable("reservation#2", "broker")


# --- replicas on a RabbitMQ-like broker -----------------------------------------------------------


def test_every_replica_consumes_its_groups_queue_on_a_rabbitmq_broker() -> None:
    replicated = outcome("broker.kind=rabbitmq", "services.concert.replicas=3")
    handled_by = {r.party for r in records(replicated, "consumer.handled") if r.data["group"] == "concert"}
    assert handled_by == {"concert#1", "concert#2", "concert#3"}
    moved = [r for r in rebalances(replicated, "concert") if r.data["moved"]]
    assert not moved, "a queue needs no partitions assigned: only the relay and job leases are"
    assert replicated.holds, replicated.violated


def test_a_crashed_replicas_unacknowledged_messages_go_to_the_others_on_a_rabbitmq_broker() -> None:
    overrides = ("broker.kind=rabbitmq", "services.concert.replicas=2")
    first = next(r for r in records(outcome(*overrides), "consumer.handled") if r.party == "concert#2")
    crash = f'faults=[{{"at": {first.at - 0.0005}, "kind": "crash", "target": "concert#2", "duration": 20}}]'
    crashed = outcome(*overrides, crash)
    redelivered = [r.data["event_id"] for r in records(crashed, "queue.redelivered") if r.data["group"] == "concert"]
    assert first.data["event_id"] in redelivered
    handled = [r for r in records(crashed, "consumer.handled") if r.data["event_id"] == first.data["event_id"]
               and r.data["group"] == "concert"]
    assert [r.party for r in handled] == ["concert#1"]
    assert crashed.holds, crashed.violated


def test_replicas_are_refused_at_a_migration_stage(tmp_path) -> None:
    message = refused(cli("run", "replicas", "--set", "design.topology=point_split", "--out", str(tmp_path / "out")))
    assert "services.reservation.replicas > 1 needs design.topology services" in message


def test_exploration_crashes_single_replicas_of_a_replicated_base() -> None:
    from concertsim.strategies import crash_targets_of
    from concertsim.strategies.targets import _CRASH_TARGETS

    assert crash_targets_of(small_scenario()) == _CRASH_TARGETS
    replicated = crash_targets_of(small_scenario(*REPLICATED))
    assert replicated[: len(_CRASH_TARGETS)] == _CRASH_TARGETS
    assert set(replicated[len(_CRASH_TARGETS):]) == {f"{s}#{i}" for s in ("reservation", "point") for i in (1, 2, 3)}
