"""Event payloads and the envelope: validation, partition keys, round trip and upcasting
(seed 4.2.3, 6)."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from concertsim.models.events import (
    PAYLOAD_TYPES,
    Event,
    EventPayload,
    PointCharged,
    PointRefunded,
    PointUsed,
    QueueTokenActivated,
    QueueTokenExpired,
    ReservationCompleted,
    ReservationExpired,
    ReservationFailed,
    SeatReserved,
    seat_key,
    readable,
    reader_version,
    upcast,
    written_version,
)

SALE = ReservationCompleted(reservation_id="res-1", user_id=1, date_id=2, seat_no=3, amount=10, confirmed_at=4.0)

ONE_OF_EACH: list[EventPayload] = [
    SeatReserved(reservation_id="res-1", user_id=1, date_id=2, seat_no=3, hold_expires_at=1.0),
    SALE,
    ReservationExpired(reservation_id="res-1", user_id=1, date_id=2, seat_no=3),
    ReservationFailed(reservation_id="res-1", user_id=1, date_id=2, seat_no=3, amount=10, reason="hold-expired"),
    PointCharged(user_id=1, amount=10, balance=10),
    PointUsed(user_id=1, use_id="use-1", reservation_id="res-1", amount=10, balance=0),
    PointRefunded(user_id=1, use_id="use-1", reservation_id="res-1", amount=10, balance=10),
    QueueTokenActivated(user_id=1, token_id="tok-1"),
    QueueTokenExpired(user_id=1, token_id="tok-1", reason="idle"),
]


def test_every_payload_type_is_registered_once() -> None:
    assert sorted(PAYLOAD_TYPES) == sorted(type(p).TYPE for p in ONE_OF_EACH)


@pytest.mark.parametrize("payload", ONE_OF_EACH, ids=lambda p: type(p).TYPE)
def test_every_event_round_trips_through_a_json_record(payload: EventPayload) -> None:
    event = Event.wrap(payload, event_id="evt-1", occurred_at=4.0, key=payload.partition_key(),
                       trace_id="op-1", causation_id="evt-0")
    record = json.loads(json.dumps(event.to_record()))
    assert (record["type"], record["version"]) == (type(payload).TYPE, 1)
    assert (record["event_id"], record["occurred_at"], record["trace_id"], record["causation_id"]) == (
        "evt-1", 4.0, "op-1", "evt-0")
    assert upcast(record["type"], record["version"], record["payload"]) == payload


def test_a_seats_events_share_one_partition_key() -> None:
    seat_events = [p for p in ONE_OF_EACH if hasattr(p, "seat_no")]
    assert {p.partition_key() for p in seat_events} == {seat_key(2, 3)}


def test_a_users_point_and_queue_events_share_one_partition_key() -> None:
    user_events = [p for p in ONE_OF_EACH if not hasattr(p, "seat_no")]
    assert {p.partition_key() for p in user_events} == {"user-1"}


def test_payloads_and_envelopes_are_immutable() -> None:
    with pytest.raises(ValidationError):
        SALE.amount = 5  # type: ignore[misc]
    event = Event.wrap(SALE, event_id="evt-1", occurred_at=4.0, key=SALE.partition_key(), trace_id="op-1")
    with pytest.raises(ValidationError):
        event.key = "other"  # type: ignore[misc]


def test_payloads_reject_unknown_fields_and_wrong_types() -> None:
    with pytest.raises(ValidationError):
        SeatReserved(reservation_id="r", user_id=1, date_id=1, seat_no=1, hold_expires_at=1.0, extra=1)
    with pytest.raises(ValidationError):
        QueueTokenExpired(user_id=1, token_id="tok-1", reason="bored")


def test_unknown_versions_and_types_are_refused() -> None:
    with pytest.raises(ValueError, match="no conversion"):
        upcast("ReservationCompletedEvent", 2, {})
    with pytest.raises(ValueError, match="unknown event type"):
        upcast("NoSuchEvent", 1, {})


def test_the_envelope_record_names_every_field() -> None:
    event = Event.wrap(SALE, event_id="evt-1", occurred_at=4.0, key="seat-2-3", trace_id="op-1")
    assert event.to_record() == {
        "event_id": "evt-1", "type": "ReservationCompletedEvent", "version": 1, "occurred_at": 4.0,
        "key": "seat-2-3", "trace_id": "op-1", "causation_id": None, "payload": SALE.model_dump(),
    }


@pytest.mark.parametrize("version_at", [written_version, reader_version])
def test_a_producer_or_consumer_moves_to_version_2_at_its_switch_and_stays_at_1_without_one(version_at) -> None:
    assert version_at(100.0, None) == 1
    assert version_at(9.999, 10.0) == 1
    assert version_at(10.0, 10.0) == 2
    assert version_at(11.0, 10.0) == 2


@pytest.mark.parametrize(
    ("version", "reads", "reader", "can"),
    [
        (1, 1, "strict", True), (2, 2, "upcasting", True), (2, 1, "strict", False), (1, 2, "strict", False),
        (2, 1, "tolerant", True), (1, 2, "tolerant", True),
        (1, 2, "upcasting", True), (2, 1, "upcasting", False),
    ],
)
def test_which_versions_each_reader_reads(version: int, reads: int, reader: str, can: bool) -> None:
    assert readable(version, reads, reader) is can


def test_an_envelope_may_carry_a_version_other_than_its_payloads() -> None:
    event = Event.wrap(SALE, event_id="evt-1", occurred_at=4.0, key="seat-2-3", trace_id="op-1", version=2)
    assert event.version == 2
