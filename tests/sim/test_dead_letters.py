"""Dead letters and their re-drive (seed 4.2.3): every parked record is re-driven after heal, in
parking order, including a copy of an event parked behind its own first copy, which the inbox then
skips as a duplicate, and a letter parked after the re-drive went through the others; in Kafka mode
and in RabbitMQ mode alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from concertsim.checks import check_run
from concertsim.models.events import Event, SeatReserved
from concertsim.scenarios.loader import load_scenario
from concertsim.sim.infrastructure.network import Network
from concertsim.sim.infrastructure.world import World
from concertsim.sim.messaging.kafka import Broker
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

CASES = Path(__file__).parent / "cases"


@pytest.mark.parametrize(
    "overrides",
    [(), ("broker.kind=rabbitmq",), ("broker.kind=rabbitmq", "broker.retry_in_place=true")],
    ids=["kafka", "rabbitmq", "rabbitmq-retry-in-place"],
)
def test_a_duplicate_parked_behind_its_own_first_copy_is_redriven_and_skipped(overrides: tuple[str, ...]) -> None:
    result = run_scenario(load_scenario(CASES / "duplicate-parked-behind-itself.yaml", overrides))
    parked = [r.data["event_id"] for r in result.trace.of_kind("broker.dead_letter") if r.party == "concert"]
    redriven = [(r.data["event_id"], r.data["outcome"]) for r in result.trace.of_kind("dlq.redriven")]
    assert result.dead_letters == []
    assert [v.invariant.id for v in check_run(result) if v.violated] == []
    # every parked record is re-driven once, in parking order; a second copy of an event is skipped
    assert [event_id for event_id, _ in redriven] == parked
    first_seen: set[str] = set()
    for event_id, outcome in redriven:
        assert outcome == ("duplicate_skipped" if event_id in first_seen else "handled")
        first_seen.add(event_id)


def test_each_parked_record_is_a_letter_of_its_own() -> None:
    world = World(small_scenario(), seed=1)
    broker = Broker(world, Network(world, lambda: 0.01, lambda: 0.01), partitions=2, partitioning="key",
                    publish_timeout=0.5, topic_of={SeatReserved.TYPE: "reservation-events"})
    payload = SeatReserved(date_id=1, seat_no=1, reservation_id="res-1", user_id=1, hold_expires_at=60.0)
    event = Event.wrap(payload, event_id="evt-1", occurred_at=0.0, key=payload.partition_key(), trace_id="")
    broker.park("concert", "reservation-events", 0, 0, event, "commit to concert failed")
    broker.park("concert", "reservation-events", 0, 0, event, f"behind a parked event of key {event.key}")
    first, second = broker.dead_letters
    assert (first.number, second.number) == (1, 2) and first != second
    broker.unpark(first)
    assert broker.dead_letters == [second] and broker.is_key_parked("concert", event.key)
    broker.unpark(second)
    assert broker.dead_letters == [] and not broker.is_key_parked("concert", event.key)


def test_a_letter_parked_after_the_redrive_went_through_the_others_is_redriven_too() -> None:
    result = run_scenario(load_scenario(CASES / "reject-parked-after-redrive.yaml"))
    first_redrive = next(r.at for r in result.trace.of_kind("dlq.redriven"))
    late = [r.data["event_id"] for r in result.trace.of_kind("broker.dead_letter") if r.at > first_redrive]
    assert late, "no letter was parked after the re-drive began"
    redriven = {r.data["event_id"] for r in result.trace.of_kind("dlq.redriven")}
    assert set(late) <= redriven
    assert result.dead_letters == []
    assert result.phases.settled_at is not None
    assert [v.invariant.id for v in check_run(result) if v.violated] == []
