"""The run report's broker section: shown for a RabbitMQ-like broker, or for any broker once a group
handled a key's events out of order, with the late handlings it found."""

from __future__ import annotations

from typing import Any

from concertsim.api import run
from concertsim.reports.run.broker_delivery import broker_cause, broker_delivery_blocks, broker_row
from concertsim.reports.run.cause import cause_words
from concertsim.reports.document.markdown import to_markdown
from tests.conftest import small_scenario

IN_ORDER = {"handlings": 0, "keys": 0, "by_group": {}, "examples": []}
LATE = {"handlings": 2, "keys": 1, "by_group": {"concert": 2}, "examples": [
    {"group": "concert", "key": "seat-1-4", "event_id": "evt-9", "type": "SeatReservedEvent",
     "after_event_id": "evt-12", "after_type": "ReservationCompletedEvent", "at": 17.25}]}


def metrics(kind: str, out_of_order: dict[str, Any]) -> dict[str, Any]:
    queues = kind == "rabbitmq"
    return {"broker": {
        "kind": kind, "consumers_per_queue": 4 if queues else None, "single_active_consumer": False if queues else None,
        "redeliveries": 3 if queues else 0, "redelivered_by_reason": {"consumer stopped": 3} if queues else {},
        "requeues": 1, "dead_letters": 0, "lost_deliveries": 0, "lost_acks": 0, "out_of_order": out_of_order}}


def test_a_kafka_run_in_order_has_no_broker_section() -> None:
    assert broker_delivery_blocks(metrics("kafka", IN_ORDER)) == []


def test_a_rabbitmq_run_says_what_its_queues_redelivered_and_that_order_held() -> None:
    text = to_markdown(broker_delivery_blocks(metrics("rabbitmq", IN_ORDER)))
    assert "4 competing consumers" in text and "3 messages held unacknowledged" in text
    assert "(3 consumer stopped)" in text and "1 failed handling was nacked" in text
    assert "in the order they were published" in text


def test_late_handlings_are_listed_whichever_the_broker() -> None:
    for kind in ("kafka", "rabbitmq"):
        text = to_markdown(broker_delivery_blocks(metrics(kind, LATE)))
        assert "2 events (concert 2) were handled after a later event of the same key" in text
        assert "| concert | seat-1-4 | SeatReservedEvent evt-9 | ReservationCompletedEvent evt-12 | 17.2 |" in text
    assert "retry topic" in to_markdown(broker_delivery_blocks(metrics("kafka", LATE)))


def test_only_a_rabbitmq_broker_has_a_row_and_a_cause_and_only_for_promises_resting_on_order() -> None:
    kafka, queues = small_scenario(), small_scenario("broker.kind=rabbitmq", "broker.single_active_consumer=true")
    assert broker_row(kafka) is None and broker_cause(kafka, "seat-view-converges") is None
    row = broker_row(queues)
    assert row is not None and row[1] == "rabbitmq (changed from the default)"
    assert "a single active consumer per queue" in row[2] and "nacked into a delay queue" in row[2]
    cause = broker_cause(queues, "seat-view-converges")
    assert cause is not None and "keeps no order" in cause and "a single active consumer per queue" in cause
    assert broker_cause(queues, "no-lost-events") is None


def test_a_failure_report_on_rabbitmq_names_the_broker_as_the_cause() -> None:
    outcome = run("small-opening", overrides=["broker.kind=rabbitmq"])
    assert cause_words(outcome, "seat-view-converges").startswith("The broker is RabbitMQ-like")
    assert cause_words(run("small-opening"), "seat-view-converges").startswith("Nothing is switched off")
