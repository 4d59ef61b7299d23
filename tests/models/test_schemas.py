"""Event schemas as records (seed 6.3): version 2 of the seat events really changes shape, readers
resolve a record as Avro's schema resolution does, and the schema registry checks a new version
under each compatibility mode as Confluent Schema Registry does."""

from __future__ import annotations

import pytest

from concertsim.models.errors import UnreadableEvent
from concertsim.models.events import Event, ReservationCompleted, SeatReserved
from concertsim.models.schemas import (
    COMPATIBILITY_MODES,
    RecordSchema,
    SchemaField,
    SchemaMismatch,
    evolution,
    plan_rollout,
    registry_refusal,
    resolve,
)

HOLD = SeatReserved(reservation_id="res-1", user_id=7, date_id=2, seat_no=47, hold_expires_at=12.5)
SALE = ReservationCompleted(reservation_id="res-1", user_id=7, date_id=2, seat_no=47, amount=50_000,
                            confirmed_at=20.0)


def test_version_2_renames_splits_and_adds_a_field() -> None:
    record = evolution("SeatReservedEvent").write(HOLD.model_dump(), 2)
    assert record == {"date_id": 2, "seat_row": 3, "seat_in_row": 7, "reservation_id": "res-1", "buyer_id": 7,
                      "hold_expires_at": 12.5, "seat_label": "R3-7"}
    sale = evolution("ReservationCompletedEvent").write(SALE.model_dump(), 2)
    assert sale["price_paid"] == 50_000 and "amount" not in sale and "seat_no" not in sale


def test_version_2_has_a_required_field_unless_it_is_given_defaults() -> None:
    required = {f.name for f in evolution("SeatReservedEvent").v2.fields if not f.has_default}
    assert required == {"seat_row", "seat_in_row", "buyer_id", "seat_label"}
    assert all(f.has_default for f in evolution("SeatReservedEvent", defaults=True).v2.fields)
    assert all(f.has_default for f in evolution("SeatReservedEvent").v1.fields), "v1 defaults every field"


@pytest.mark.parametrize("payload", [HOLD, SALE], ids=lambda p: p.TYPE)
@pytest.mark.parametrize("version", [1, 2])
def test_each_version_reads_back_what_it_wrote(payload: SeatReserved | ReservationCompleted, version: int) -> None:
    rollout = plan_rollout(payload.TYPE, 0.0, 0.0, "strict")
    assert rollout.read(rollout.write(payload, version), version, version) == payload


def test_avro_resolution_fills_a_missing_field_from_the_readers_default_and_skips_an_unknown_one() -> None:
    writer = RecordSchema("E", 1, (SchemaField("x", "int"), SchemaField("gone", "string")))
    reader = RecordSchema("E", 2, (SchemaField("x", "int"), SchemaField("y", "int", -1)))
    assert resolve({"x": 1, "gone": "a"}, writer, reader) == {"x": 1, "y": -1}


def test_avro_resolution_refuses_a_missing_field_without_a_default() -> None:
    writer = RecordSchema("E", 1, (SchemaField("x", "int"),))
    reader = RecordSchema("E", 2, (SchemaField("x", "int"), SchemaField("y", "int")))
    with pytest.raises(SchemaMismatch, match="y is not in v1 and has no default"):
        resolve({"x": 1}, writer, reader)


def test_a_renamed_field_reads_through_its_alias_and_as_its_default_without_one() -> None:
    writer = RecordSchema("E", 1, (SchemaField("amount", "int", 0),))
    aliased = RecordSchema("E", 2, (SchemaField("price", "int", 0, ("amount",)),))
    plain = RecordSchema("E", 2, (SchemaField("price", "int", 0),))
    assert resolve({"amount": 5}, writer, aliased) == {"price": 5}
    assert resolve({"amount": 5}, writer, plain) == {"price": 0}


def test_avro_promotes_an_int_to_a_double_but_not_a_string_to_an_int() -> None:
    writer = RecordSchema("E", 1, (SchemaField("x", "int"), SchemaField("s", "string")))
    promoted = resolve({"x": 1, "s": "a"}, writer, RecordSchema("E", 2, (SchemaField("x", "double"),)))
    assert promoted == {"x": 1.0} and isinstance(promoted["x"], float)
    with pytest.raises(SchemaMismatch, match="is a string"):
        resolve({"x": 1, "s": "a"}, writer, RecordSchema("E", 2, (SchemaField("s", "int"),)))


def test_a_tolerant_v1_reader_reads_v2_silently_as_its_defaults() -> None:
    rollout = plan_rollout("SeatReservedEvent", 0.0, None, "tolerant", compatibility="forward")
    read = rollout.read(rollout.write(HOLD, 2), 2, 1)
    assert (read.user_id, read.seat_no) == (0, 0), "renamed and split fields read as v1's defaults"
    assert (read.reservation_id, read.hold_expires_at) == ("res-1", 12.5)


def test_a_tolerant_v2_reader_cannot_read_v1_without_the_new_fields_defaults() -> None:
    rollout = plan_rollout("SeatReservedEvent", None, 0.0, "tolerant", compatibility="none")
    with pytest.raises(UnreadableEvent, match="seat_row is not in v1 and has no default"):
        rollout.read(rollout.write(HOLD, 1), 1, 2)


def test_a_tolerant_v2_reader_with_defaults_gets_the_rename_by_alias_but_not_the_split() -> None:
    rollout = plan_rollout("SeatReservedEvent", None, 0.0, "tolerant", defaults=True)
    read = rollout.read(rollout.write(HOLD, 1), 1, 2)
    assert read.user_id == 7, "the alias finds v1's user_id"
    assert read.seat_no != HOLD.seat_no, "no alias can join a split: the seat is read from defaults"


def test_the_upcaster_converts_v1_up_correctly_and_cannot_read_v2_before_its_upgrade() -> None:
    rollout = plan_rollout("ReservationCompletedEvent", None, 0.0, "upcasting")
    assert rollout.read(rollout.write(SALE, 1), 1, 2) == SALE
    with pytest.raises(UnreadableEvent):
        rollout.read(rollout.write(SALE, 2), 2, 1)


def test_a_strict_reader_refuses_the_other_version() -> None:
    rollout = plan_rollout("SeatReservedEvent", 0.0, 0.0, "strict", defaults=True)
    with pytest.raises(UnreadableEvent):
        rollout.read(rollout.write(HOLD, 2), 2, 1)


@pytest.mark.parametrize(("mode", "defaults", "refused"), [
    ("backward", False, True), ("backward", True, False),
    ("forward", False, False), ("forward", True, False),
    ("full", False, True), ("full", True, False),
    ("none", False, False),
])
def test_the_registry_checks_version_2_under_each_compatibility_mode(mode: str, defaults: bool, refused: bool) -> None:
    evolved = evolution("SeatReservedEvent", defaults=defaults)
    assert (registry_refusal((evolved.v1,), evolved.v2, mode) is not None) is refused


def test_backward_refuses_a_rename_without_an_alias_or_a_default_and_names_it() -> None:
    evolved = evolution("ReservationCompletedEvent", aliases=False)
    reason = registry_refusal((evolved.v1,), evolved.v2, "backward")
    assert reason is not None and reason.startswith("BACKWARD: a v2 reader cannot read v1 data")


def test_a_transitive_mode_checks_every_registered_version_the_plain_one_only_the_last() -> None:
    v1 = RecordSchema("E", 1, (SchemaField("x", "int"),))
    v2 = RecordSchema("E", 2, (SchemaField("x", "int"), SchemaField("y", "int", 0)))
    v3 = RecordSchema("E", 3, (SchemaField("y", "int"),))
    assert registry_refusal((v1, v2), v3, "backward") is None
    assert registry_refusal((v1, v2), v3, "backward_transitive") is not None
    assert set(COMPATIBILITY_MODES) >= {"backward", "forward", "full", "none", "full_transitive"}


def test_a_refused_version_2_ships_nowhere() -> None:
    rollout = plan_rollout("SeatReservedEvent", 5.0, 10.0, "tolerant")
    assert not rollout.shipped and rollout.refused is not None
    assert (rollout.written_version(20.0), rollout.reader_version(20.0)) == (1, 1)


def test_the_envelope_carries_the_body_as_written_and_records_it() -> None:
    body = evolution("SeatReservedEvent").write(HOLD.model_dump(), 2)
    event = Event.wrap(HOLD, event_id="evt-1", occurred_at=4.0, key=HOLD.partition_key(), trace_id="op-1",
                       version=2, body=body)
    assert event.to_record()["body"] == body and event.to_record()["payload"] == HOLD.model_dump()
    plain = Event.wrap(HOLD, event_id="evt-1", occurred_at=4.0, key=HOLD.partition_key(), trace_id="op-1")
    assert "body" not in plain.to_record()


def test_point_stream_events_v2_rename_the_amount_and_add_the_signed_delta() -> None:
    from concertsim.models.points import LedgerEntry
    from concertsim.models.schemas import LEDGER_ENTRY

    entry = LedgerEntry("led-1", 7, "use", 300, 4.0, "res-1", "use-1", "key-1")
    rollout = plan_rollout(LEDGER_ENTRY, 0.0, 0.0, "upcasting")
    record = rollout.write(entry, 2)
    assert (record["points"], record["delta"]) == (300, -300) and "amount" not in record
    assert rollout.read(record, 2, 2) == entry
    assert rollout.read(rollout.write(LedgerEntry("led-2", 7, "charge", 5, 1.0), 1), 1, 2).reservation_id is None
    assert rollout.refused is not None, "BACKWARD refuses a required delta a v2 reader cannot find in v1"
