"""The RabbitMQ-like broker (``broker.kind=rabbitmq``, seed 8): competing consumers share a group's
queue, a message a consumer held unacknowledged is redelivered (to another consumer) once its
channel is gone, a nack requeues it after a backoff and the budget ends in the dead-letter exchange,
and there is no order across competing consumers unless a single consumer is active. The broker's
own tests drive a queue directly; the runs show what that means for the design."""

from __future__ import annotations

from functools import cache

import pytest

from concertsim.api import RunOutcome, run
from concertsim.checks.probes import probe_counts
from concertsim.models.events import Event, SeatReserved
from concertsim.reports.exports.otlp import otlp_trace
from concertsim.scenarios.loader import ScenarioError
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.event_broker import ProducerSession
from concertsim.sim.messaging.rabbitmq import Channel, QueueBroker
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

HEARTBEAT = 1.0
LATENCY = 0.01


def queue_broker(**options: object) -> tuple[World, QueueBroker]:
    world = World(small_scenario("broker.kind=rabbitmq"), seed=1)
    network = Network(world, lambda: LATENCY, lambda: LATENCY)
    broker = QueueBroker(world, network, publish_timeout=0.5, topic_of={SeatReserved.TYPE: "reservation-events"},
                         retry_delay=lambda failures: 0.5 * 2 ** (failures - 1), heartbeat=HEARTBEAT,
                         **options)  # type: ignore[arg-type]
    broker.subscribe("concert", SeatReserved.TYPE)
    return world, broker


def seat_event(n: int, event_id: str | None = None) -> Event:
    payload = SeatReserved(date_id=1, seat_no=n, reservation_id=f"res-{n}", user_id=n, hold_expires_at=60.0)
    return Event.wrap(payload, event_id=event_id or f"evt-{n}", occurred_at=0.0, key=payload.partition_key(),
                      trace_id="")


def publish(world: World, broker: QueueBroker, *events: Event) -> None:
    """Publish each of ``events`` from a producer session of its own (a relay restarted in between)."""
    for event in events:
        world.env.process(broker.publish(ProducerSession(world, "reservation"), event))
    world.env.run(until=world.env.now + 0.1)


def held(channel: Channel) -> list[str]:
    return [m.event.event_id for m in sorted(channel.unacked.values(), key=lambda m: m.tag)]


def records(world: World, kind: str) -> list[dict[str, object]]:
    return [r.data for r in world.trace.records if r.kind == kind]


def test_competing_consumers_share_the_queue_each_message_going_to_one_of_them() -> None:
    world, broker = queue_broker()
    first, second = (broker.open_channel("concert", i, "concert", prefetch=2) for i in range(2))
    publish(world, broker, *(seat_event(n) for n in range(1, 5)))
    assert held(first) == ["evt-1", "evt-3"] and held(second) == ["evt-2", "evt-4"]
    assert [d.message.event.event_id for d in first.inbox] == ["evt-1", "evt-3"]
    publish(world, broker, seat_event(5))
    assert broker.total_lag() == 5 and len(broker.queues["concert"].ready) == 1  # both at their prefetch


def test_a_stopped_consumers_unacked_messages_are_redelivered_to_another_consumer() -> None:
    world, broker = queue_broker()
    crashed, other = (broker.open_channel("concert", i, "concert", prefetch=2) for i in range(2))
    publish(world, broker, *(seat_event(n) for n in range(1, 5)))
    broker.break_channel(crashed, "consumer stopped")
    world.env.run(until=world.env.now + HEARTBEAT / 2)
    assert held(crashed) == ["evt-1", "evt-3"]  # the broker has not noticed yet
    for tag in list(other.unacked):
        broker.settle(other, tag, "ack", "")
    world.env.run(until=world.env.now + HEARTBEAT)
    assert not crashed.is_open and held(other) == ["evt-1", "evt-3"]
    assert [(r["event_id"], r["consumer"], r["reason"]) for r in records(world, "queue.redelivered")] == [
        ("evt-1", 0, "consumer stopped"), ("evt-3", 0, "consumer stopped")]
    assert [d.number for d in other.inbox][-2:] == [2, 2]


def test_a_lost_delivery_breaks_the_channel_and_its_messages_come_back_after_the_heartbeat() -> None:
    world, broker = queue_broker()
    channel = broker.open_channel("concert", 0, "concert", prefetch=5)
    world.env.process(broker.publish(ProducerSession(world, "reservation"), seat_event(1)))
    world.env.run(until=0.1)
    broker.network.blocked.add(("broker", "concert"))
    publish(world, broker, seat_event(2))
    assert channel.is_broken and [r["event_id"] for r in records(world, "broker.delivery_lost")] == ["evt-2"]
    broker.network.blocked.clear()
    world.env.run(until=world.env.now + HEARTBEAT)
    assert not channel.is_open and broker.total_lag() == 2
    again = broker.open_channel("concert", 0, "concert", prefetch=5)
    world.env.run(until=world.env.now + 0.1)
    assert [d.message.event.event_id for d in again.inbox] == ["evt-1", "evt-2"]


def test_a_nack_requeues_after_the_backoff_and_a_reject_dead_letters_with_the_reason() -> None:
    world, broker = queue_broker()
    channel = broker.open_channel("concert", 0, "concert", prefetch=1)
    publish(world, broker, seat_event(1), seat_event(2))
    assert held(channel) == ["evt-1"]
    broker.settle(channel, 0, "nack", "commit failed")
    assert held(channel) == ["evt-2"] and broker.total_lag() == 2  # evt-1 waits in the delay queue
    broker.settle(channel, 1, "ack", "")
    world.env.run(until=world.env.now + 0.4)
    assert held(channel) == []
    world.env.run(until=world.env.now + 0.2)
    assert held(channel) == ["evt-1"] and channel.inbox[-1].failures == 1
    assert [(r["event_id"], r["attempt"]) for r in records(world, "queue.requeued")] == [("evt-1", 1)]
    broker.settle(channel, 0, "reject", "commit failed")
    assert [(d.event.event_id, d.reason, d.group) for d in broker.dead_letters] == [
        ("evt-1", "commit failed", "concert")]
    assert broker.total_lag() == 0


def test_a_single_active_consumer_receives_alone_until_its_channel_closes() -> None:
    world, broker = queue_broker(single_active_consumer=True)
    active, standby = (broker.open_channel("concert", i, "concert", prefetch=2) for i in range(2))
    publish(world, broker, *(seat_event(n) for n in range(1, 4)))
    assert held(active) == ["evt-1", "evt-2"] and held(standby) == []
    broker.break_channel(active, "consumer stopped")
    world.env.run(until=world.env.now + HEARTBEAT + 0.1)
    assert held(standby) == ["evt-1", "evt-2"]


def test_the_dedup_window_drops_a_second_publish_of_an_event_from_any_session_in_this_mode() -> None:
    world, broker = queue_broker(dedup_window=10.0)
    channel = broker.open_channel("concert", 0, "concert", prefetch=5)
    publish(world, broker, seat_event(1), seat_event(1))
    assert held(channel) == ["evt-1"]
    assert [r["event_id"] for r in records(world, "broker.duplicate_removed")] == ["evt-1"]


def test_a_broker_crash_closes_every_channel_and_keeps_the_messages() -> None:
    world, broker = queue_broker()
    channel = broker.open_channel("concert", 0, "concert", prefetch=5)
    publish(world, broker, seat_event(1))
    broker.crash()
    assert not channel.is_open and broker.total_lag() == 1
    broker.restart()
    again = broker.open_channel("concert", 0, "concert", prefetch=5)
    assert held(again) == ["evt-1"]


# --- what the mode means for the design ------------------------------------------------------------

CONSUMER_CRASH = ("faults=[{at: 5, kind: crash, target: concert, duration: 5}, "
                  "{at: 14, kind: crash, target: consumer:concert, duration: 3}]")


@cache
def opening(*overrides: str) -> RunOutcome:
    return run("ticket-opening", overrides=list(overrides))


def test_the_default_broker_keeps_the_default_trace() -> None:
    # The default broker is Kafka: its trace is the one the opening had before a second broker
    # existed (re-pinned once since, when write conflicts began to name their table and row).
    assert opening().result.trace_sha256.startswith("4f333fe6bee2")
    assert opening().metrics["broker"]["kind"] == "kafka"


def test_competing_consumers_handle_a_seats_events_out_of_order_after_a_consumer_crash() -> None:
    outcome = opening("broker.kind=rabbitmq", CONSUMER_CRASH)
    broker = outcome.metrics["broker"]
    assert broker["redeliveries"] > 0 and broker["out_of_order"]["by_group"].get("concert", 0) > 0
    assert outcome.violated == ["seat-view-converges"]
    consumers = {r.data["partition"] for r in outcome.result.trace.records
                 if r.kind == "broker.deliver" and r.data["group"] == "concert"}
    assert consumers == {0, 1, 2, 3}


def test_a_single_active_consumer_keeps_each_seats_order_through_the_same_crash() -> None:
    outcome = opening("broker.kind=rabbitmq", "broker.single_active_consumer=true", CONSUMER_CRASH)
    assert outcome.metrics["broker"]["redeliveries"] > 0
    assert outcome.metrics["broker"]["out_of_order"]["handlings"] == 0 and outcome.violated == []
    assert opening(CONSUMER_CRASH).violated == []  # Kafka: the partition keeps the order too


@pytest.mark.parametrize("dead_letter", [True, False])
def test_failed_handlings_are_requeued_then_dead_lettered_or_dropped_once_the_budget_is_spent(
        dead_letter: bool) -> None:
    always = "faults=[{at: 0, kind: commit_failure, target: data_platform, duration: 30, params: {rate: 1.0}}]"
    outcome = run("small-opening", overrides=["broker.kind=rabbitmq", always, "design.retries=1",
                                              f"design.dead_letter={str(dead_letter).lower()}", "workload.users=10"])
    trace = outcome.result.trace.records
    requeued = [r for r in trace if r.kind == "queue.requeued"]
    letters = [r for r in trace if r.kind == "broker.dead_letter"]
    dropped = [r for r in trace if r.kind == "consumer.dropped"]
    assert requeued and all(r.data["attempt"] == 1 for r in requeued)
    assert (len(letters), len(dropped)) == ((len(requeued), 0) if dead_letter else (0, len(requeued)))
    assert all("commit" in r.data["reason"] for r in letters + dropped)


@pytest.mark.parametrize(("window", "broken"), [(None, ["data-platform-exactly-once", "ranking-converges"]),
                                                (60, [])])
def test_the_brokers_dedup_window_stops_duplicated_publishes_in_rabbitmq_mode(window: int | None,
                                                                              broken: list[str]) -> None:
    overrides = ["broker.kind=rabbitmq", "design.consumer_dedup=false", "workload.users=60",
                 "faults=[{at: 0, kind: duplicate, target: publish, duration: 30}]"]
    if window is not None:
        overrides.append(f"broker.dedup_window={window}")
    assert sorted(run("small-opening", overrides=overrides).violated) == broken


def test_the_builtin_rabbitmq_scenario_redelivers_and_keeps_order_with_a_single_active_consumer_retrying_in_place(
) -> None:
    builtin = run("rabbitmq-broker")
    single = builtin.metrics["broker"]
    assert builtin.violated == []
    assert single["redeliveries"] > 0 and single["dead_letters"] > 0 and single["requeues"] == 0  # retried in place
    assert single["lost_deliveries"] > 0 and single["lost_acks"] > 0 and single["out_of_order"]["handlings"] == 0
    competing = run("rabbitmq-broker", overrides=["broker.single_active_consumer=false"])
    assert competing.violated == ["seat-view-converges"]
    assert competing.metrics["broker"]["out_of_order"]["by_group"] == {"concert": 1}


def test_a_lost_acknowledgement_redelivers_what_was_handled_and_the_probe_sees_it() -> None:
    lost = "faults=[{at: 0, kind: drop, target: offset_commit, duration: 20, match: {group: concert, count: 3}}]"
    result = run_scenario(small_scenario("broker.kind=rabbitmq", lost))
    assert probe_counts(result)["redelivery-after-lost-offset-commit"] > 0
    assert any(r.kind == "consumer.ack_lost" for r in result.trace.records)


CONCERT_COMMITS_FAIL = "faults=[{at: 0, kind: commit_failure, target: concert, duration: 20, params: {rate: 0.5}}]"


def test_retries_through_the_delay_queue_reorder_a_seat_even_with_a_single_active_consumer() -> None:
    outcome = opening("broker.kind=rabbitmq", "broker.single_active_consumer=true", CONCERT_COMMITS_FAIL)
    assert outcome.metrics["broker"]["requeues"] > 0 and outcome.metrics["broker"]["out_of_order"]["handlings"] > 0
    assert outcome.violated == ["seat-view-converges"]


def test_a_single_active_consumer_retrying_in_place_keeps_each_seats_order_as_kafka_does() -> None:
    outcome = opening("broker.kind=rabbitmq", "broker.single_active_consumer=true", "broker.retry_in_place=true",
                      CONCERT_COMMITS_FAIL)
    broker = outcome.metrics["broker"]
    assert broker["requeues"] == 0 and broker["dead_letters"] > 0 and broker["out_of_order"]["handlings"] == 0
    assert outcome.violated == []


@pytest.mark.parametrize("setting", ["broker.retry_topic=true", "broker.partition_append_time=0.01"])
def test_kafka_only_settings_are_refused_with_a_rabbitmq_broker(setting: str) -> None:
    with pytest.raises(ScenarioError, match="applies to the kafka broker only"):
        small_scenario("broker.kind=rabbitmq", setting)


def test_the_opentelemetry_export_names_the_broker_it_ran_on() -> None:
    outcome = run("small-opening", overrides=["broker.kind=rabbitmq"])
    systems = {attribute["value"]["stringValue"]
               for scope in otlp_trace(outcome.result)["resourceSpans"]
               for spans in scope["scopeSpans"] for span in spans["spans"]
               for attribute in span["attributes"] if attribute["key"] == "messaging.system"}
    assert systems == {"rabbitmq"}
