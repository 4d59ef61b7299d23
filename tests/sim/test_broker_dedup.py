"""The broker's de-duplication window (an idempotent producer, seed 8.3 "removes duplicates")
keeps a producer session's retries out of the log, but neither what a restarted relay publishes
again nor redeliveries: without consumer de-duplication, those still double-count."""

from __future__ import annotations

import pytest

from concertsim.api import run
from concertsim.models.events import Event, SeatReserved
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.event_broker import ProducerSession
from concertsim.sim.messaging.kafka import Broker
from tests.conftest import small_scenario

LATENCY = 0.01

DUPLICATED = {"publish": "faults=[{at: 0, kind: duplicate, target: publish, duration: 30}]",
              "delivery": "faults=[{at: 0, kind: duplicate, target: delivery, duration: 30}]"}
DOUBLE_COUNTED = ["ranking-converges", "data-platform-exactly-once"]


@pytest.mark.parametrize(("duplicated", "window", "broken"), [
    ("publish", None, DOUBLE_COUNTED),
    ("publish", 60, []),
    ("delivery", 60, DOUBLE_COUNTED),
])
def test_what_a_deduplicating_broker_prevents_and_what_it_cannot(duplicated: str, window: int | None,
                                                                 broken: list[str]) -> None:
    overrides = ["design.consumer_dedup=false", DUPLICATED[duplicated], "workload.users=60"]
    if window is not None:
        overrides.append(f"broker.dedup_window={window}")
    outcome = run("small-opening", overrides=overrides)
    assert outcome.violated == broken
    removed = [r for r in outcome.result.trace.records if r.kind == "broker.duplicate_removed"]
    assert bool(removed) == (duplicated == "publish" and window is not None)


# --- Kafka's idempotent producer: retries within one producer session ------------------------------

def kafka_broker(window: float = 60.0) -> tuple[World, Broker]:
    world = World(small_scenario(), seed=1)
    network = Network(world, lambda: LATENCY, lambda: LATENCY)
    return world, Broker(world, network, partitions=1, partitioning="key", publish_timeout=0.5,
                         topic_of={SeatReserved.TYPE: "reservation-events"}, dedup_window=window)


def seat_event(n: int) -> Event:
    payload = SeatReserved(date_id=1, seat_no=n, reservation_id=f"res-{n}", user_id=n, hold_expires_at=60.0)
    return Event.wrap(payload, event_id=f"evt-{n}", occurred_at=0.0, key=payload.partition_key(), trace_id="")


def publish(world: World, broker: Broker, producer: ProducerSession, event: Event) -> bool:
    sent = world.env.process(broker.publish(producer, event))
    world.env.run(until=sent)
    return bool(sent.value)


def test_a_retry_within_a_producer_session_is_dropped_but_a_new_session_appends_again() -> None:
    world, broker = kafka_broker()
    relay = ProducerSession(world, "reservation")
    broker.network.blocked.add(("broker", "reservation"))  # the acknowledgements are lost
    assert not publish(world, broker, relay, seat_event(1))
    broker.network.blocked.clear()
    assert publish(world, broker, relay, seat_event(1))  # the retry: same producer id and sequence
    assert [e.event_id for e in broker.log("reservation-events", 0)] == ["evt-1"]
    restarted = ProducerSession(world, "reservation")
    assert restarted.producer_id != relay.producer_id
    assert publish(world, broker, restarted, seat_event(1))
    assert [e.event_id for e in broker.log("reservation-events", 0)] == ["evt-1", "evt-1"]


def test_a_record_sent_again_after_its_acknowledgement_is_a_new_record_to_the_producer() -> None:
    world, broker = kafka_broker()
    relay = ProducerSession(world, "reservation")
    assert publish(world, broker, relay, seat_event(1))
    assert publish(world, broker, relay, seat_event(1))  # e.g. the relay could not mark the row
    assert len(broker.log("reservation-events", 0)) == 2


@pytest.mark.parametrize(("consumer_dedup", "broken"), [(False, DOUBLE_COUNTED), (True, [])])
def test_a_restarted_relay_republishes_past_the_window_and_the_inbox_must_absorb_it(consumer_dedup: bool,
                                                                                     broken: list[str]) -> None:
    outcome = run("relay-crashes", overrides=[f"design.consumer_dedup={str(consumer_dedup).lower()}",
                                              "broker.dedup_window=60"])
    assert outcome.violated == broken
    assert not any(r.kind == "broker.duplicate_removed" for r in outcome.result.trace.records)


def test_the_rabbitmq_deduplication_exchange_drops_what_a_restarted_relay_publishes_again() -> None:
    outcome = run("relay-crashes", overrides=["broker.kind=rabbitmq", "design.consumer_dedup=false",
                                              "broker.dedup_window=60"])
    assert outcome.violated == []
    assert any(r.kind == "broker.duplicate_removed" for r in outcome.result.trace.records)
