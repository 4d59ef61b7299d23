"""A broken channel: over a RabbitMQ-like broker, the search may lose a queue's deliveries or its
consumers' acknowledgements for a few seconds while a consumer set restarts, so that channels close
with deliveries in hand (their requeueing is what is at stake); a Kafka base draws as before."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from concertsim.scenarios.loader import load_builtin
from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.strategies import FAULT_KINDS, broken_channel, fault_schedules, scenarios


@settings(max_examples=40, derandomize=True, database=None)
@given(broken_channel(FAULT_KINDS, 30.0, ("delivery", "SeatReservedEvent")))
def test_a_broken_channel_loses_an_events_deliveries_or_acks_while_a_consumer_set_restarts(
    faults: list[FaultSpec],
) -> None:
    lost, restart = faults
    assert lost.kind == "drop" and lost.target in ("delivery", "offset_commit")  # an ack travels as a commit
    assert lost.match is not None and lost.match.message_type == "SeatReservedEvent"
    assert lost.duration in (1.0, 2.0, 5.0)
    assert restart.kind == "crash" and restart.target.startswith("consumer:") and restart.duration == 5.0
    assert lost.at <= restart.at <= lost.at + lost.duration


@settings(max_examples=10, derandomize=True, database=None)
@given(broken_channel(("drop", "delay"), 30.0, ("delivery", "SeatReservedEvent")))
def test_a_broken_channel_needs_crashes(faults: list[FaultSpec]) -> None:
    assert faults == []


def _schedules(queue_broker: bool) -> list[tuple[FaultSpec, ...]]:
    seen: list[tuple[FaultSpec, ...]] = []

    @settings(max_examples=80, derandomize=True, database=None)
    @given(fault_schedules(FAULT_KINDS, hold_ttl=20.0, queue_broker=queue_broker))
    def draw(faults: tuple[FaultSpec, ...]) -> None:
        seen.append(faults)

    draw()
    return seen


def _breaks_channels(schedule: tuple[FaultSpec, ...]) -> bool:
    return any(f.kind == "crash" and f.target.startswith("consumer:") and any(
        g.kind == "drop" and g.target in ("delivery", "offset_commit") and g.at <= f.at <= g.at + g.duration
        for g in schedule) for f in schedule)


def test_a_queue_broker_has_many_more_schedules_break_channels_than_a_kafka_one() -> None:
    assert sum(map(_breaks_channels, _schedules(True))) > 5 * max(1, sum(map(_breaks_channels, _schedules(False))))


@pytest.mark.parametrize(("base", "queue_broker"), [("small-opening", False), ("rabbitmq-broker", True)])
def test_only_a_rabbitmq_base_asks_for_broken_channels(
    base: str, queue_broker: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Kafka base never asks for the extra draw, so its examples are those it drew before."""
    from concertsim.strategies import examples

    asked: list[object] = []
    original = examples.fault_schedules

    def recording(*args: object, **kwargs: object) -> object:
        asked.append(kwargs["queue_broker"])
        return original(*args, **kwargs)

    monkeypatch.setattr(examples, "fault_schedules", recording)

    @settings(max_examples=5, derandomize=True, database=None)
    @given(scenarios(load_builtin(base)))
    def draw(scenario: Scenario) -> None:
        pass

    draw()
    assert asked and set(asked) == {queue_broker}
