"""Event schemas as records on the wire, how readers resolve them, and the schema registry's check
(seed 6.3, event versioning).

An event's payload is serialized to a record (a plain dict) in the schema of the version its
producer writes; a consumer parses the record with its own reader and derives the payload it
applies. Two versions exist of the seat events that are upgraded (:data:`EVOLUTIONS`): version 1
has the payload's own shape; version 2 changes it for real:

- a **renamed** field (SeatReservedEvent's ``user_id`` is ``buyer_id``, ReservationCompletedEvent's
  ``amount`` is ``price_paid``), naming the old name as an alias unless ``aliases`` is off;
- a **split** field: ``seat_no`` becomes ``seat_row`` and ``seat_in_row`` (rows of
  :data:`SEATS_PER_ROW` seats, both from 1);
- a **new required** field, ``seat_label`` (``"R2-17"``: the seat as printed on the ticket).

Version 1 gives every field its type's zero as default (as every proto3 field has one). Version 2
gives its new fields (the renamed one, the split halves, the label) no default, so they are
required, unless ``defaults`` is on.

Readers (:data:`concertsim.models.events.READERS`) resolve a record as Apache Avro does
(:func:`resolve`, "Schema Resolution" in the Avro specification): a reader field is taken from the
writer's field of the same name or of one of its aliases, else from its own default, else the
record is unreadable; a writer field the reader does not know is skipped. ``strict`` reads only
its own version; ``tolerant`` resolves any version against its own; ``upcasting`` converts an
older record up with a hand-written conversion (:attr:`Evolution.upcast`), which gets the split
and the rename right, and cannot read a newer one.

Point's event-sourced streams have versions too (:data:`LEDGER_ENTRY`, :class:`LedgerEvolution`):
version 2 of a stream event renames ``amount`` to ``points`` and adds the signed ``delta``; Point
stores each event as a record and replays it through its reader.

The schema registry (:func:`registry_refusal`) checks a new version against the registered ones
under a compatibility mode, as Confluent Schema Registry does: ``backward`` (a reader of the new
schema reads data of the last one), ``forward`` (a reader of the last schema reads data of the new
one), ``full`` (both), each ``_transitive`` against every earlier version, ``none`` (no check).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from concertsim.models.errors import UnreadableEvent
from concertsim.models.events import (
    PAYLOAD_TYPES,
    EventPayload,
    ReservationCompleted,
    SeatReserved,
    readable,
    reader_version,
    written_version,
)
from concertsim.models.points import LedgerEntry

__all__ = [
    "SEATS_PER_ROW",
    "SchemaField",
    "RecordSchema",
    "SchemaMismatch",
    "resolve",
    "resolution_problem",
    "COMPATIBILITY_MODES",
    "registry_refusal",
    "Evolution",
    "EVOLUTIONS",
    "evolution",
    "SchemaRollout",
    "plan_rollout",
    "LEDGER_ENTRY",
    "LedgerEvolution",
]

SEATS_PER_ROW = 20
"""Seats in a row of a venue, for version 2's split of ``seat_no`` into row and seat in row."""

_ZERO = {"int": 0, "long": 0, "double": 0.0, "string": ""}
_PROMOTIONS = {("int", "long"), ("int", "double"), ("long", "double")}
"""Avro's promotions of a writer's type to a reader's (int to long or double, long to double)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True, slots=True)
class SchemaField:
    """One field of a record schema: its name, Avro primitive type, default (``REQUIRED``: none)
    and aliases (the names a reader also accepts from a writer)."""

    name: str
    type: str
    default: Any = REQUIRED
    aliases: tuple[str, ...] = ()

    @property
    def has_default(self) -> bool:
        return self.default is not REQUIRED


@dataclass(frozen=True, slots=True)
class RecordSchema:
    """A version of an event's schema."""

    event_type: str
    version: int
    fields: tuple[SchemaField, ...]


class SchemaMismatch(Exception):
    """A record cannot be resolved against a reader's schema; ``reason`` says which field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _writer_field(writer: RecordSchema, field: SchemaField) -> SchemaField | None:
    names = (field.name, *field.aliases)
    return next((w for w in writer.fields if w.name in names), None)


def resolution_problem(writer: RecordSchema, reader: RecordSchema) -> str | None:
    """Why data written in ``writer`` cannot be read with ``reader`` under Avro's resolution, or
    None if it can: a reader field that no writer field (by name or alias) gives and that has no
    default, or a field whose writer type cannot be promoted to the reader's."""
    for field in reader.fields:
        source = _writer_field(writer, field)
        if source is None:
            if not field.has_default:
                return (f"v{reader.version}'s {field.name} is not in v{writer.version} "
                        f"and has no default")
        elif source.type != field.type and (source.type, field.type) not in _PROMOTIONS:
            return f"v{writer.version}'s {source.name} is a {source.type}, v{reader.version} reads a {field.type}"
    return None


def resolve(record: Mapping[str, Any], writer: RecordSchema, reader: RecordSchema) -> dict[str, Any]:
    """``record``, written in ``writer``, as a reader of ``reader`` sees it (Avro's schema
    resolution): each reader field from the writer field of its name or alias, else its default;
    writer fields the reader does not know are skipped. Raises :class:`SchemaMismatch` where
    :func:`resolution_problem` finds one."""
    problem = resolution_problem(writer, reader)
    if problem is not None:
        raise SchemaMismatch(problem)
    read: dict[str, Any] = {}
    for field in reader.fields:
        source = _writer_field(writer, field)
        if source is None:
            read[field.name] = field.default
        elif source.type != field.type and field.type == "double":
            read[field.name] = float(record[source.name])
        else:
            read[field.name] = record[source.name]
    return read


COMPATIBILITY_MODES = (
    "backward", "backward_transitive", "forward", "forward_transitive", "full", "full_transitive", "none",
)


def registry_refusal(registered: Sequence[RecordSchema], candidate: RecordSchema, mode: str) -> str | None:
    """Why a schema registry in ``mode`` (one of :data:`COMPATIBILITY_MODES`) refuses to register
    ``candidate`` after the ``registered`` versions (oldest first), or None if it accepts it.
    Non-transitive modes check the latest registered version only, transitive ones every one."""
    if mode not in COMPATIBILITY_MODES:
        raise ValueError(f"unknown compatibility mode {mode!r}")
    if mode == "none" or not registered:
        return None
    against = registered if mode.endswith("_transitive") else registered[-1:]
    kind = mode.removesuffix("_transitive")
    for old in against:
        if kind in ("backward", "full"):
            problem = resolution_problem(writer=old, reader=candidate)
            if problem is not None:
                return f"{mode.upper()}: a v{candidate.version} reader cannot read v{old.version} data ({problem})"
        if kind in ("forward", "full"):
            problem = resolution_problem(writer=candidate, reader=old)
            if problem is not None:
                return f"{mode.upper()}: a v{old.version} reader cannot read v{candidate.version} data ({problem})"
    return None


# --- the seat events' version 2 -----------------------------------------------------------------

_AVRO_TYPES = {int: "int", str: "string", float: "double"}


def _version_1(payload_cls: type[EventPayload]) -> RecordSchema:
    fields = []
    for name, info in payload_cls.model_fields.items():
        avro_type = _AVRO_TYPES[info.annotation]  # type: ignore[index]
        fields.append(SchemaField(name, avro_type, _ZERO[avro_type]))
    return RecordSchema(payload_cls.TYPE, 1, tuple(fields))


def _split_seat(seat_no: int) -> tuple[int, int]:
    row, in_row = divmod(seat_no - 1, SEATS_PER_ROW)
    return row + 1, in_row + 1


def _join_seat(seat_row: int, seat_in_row: int) -> int:
    return (seat_row - 1) * SEATS_PER_ROW + seat_in_row


@dataclass(frozen=True)
class Evolution:
    """An event's version 1 (the payload's shape) and version 2, how each version is written from
    the payload a producer means, how a reader of each derives the payload from its record, and
    the conversion of a version 1 record up to version 2."""

    v1: RecordSchema
    v2: RecordSchema
    renamed: tuple[str, str]
    """(old name, new name) of the renamed field."""

    @property
    def payload_cls(self) -> type[EventPayload]:
        return PAYLOAD_TYPES[self.v1.event_type]

    def schema(self, version: int) -> RecordSchema:
        return self.v1 if version == 1 else self.v2

    def write(self, meant: Mapping[str, Any], version: int) -> dict[str, Any]:
        """The record a producer of ``version`` writes for the payload ``meant``."""
        if version == 1:
            return dict(meant)
        old, new = self.renamed
        seat_row, seat_in_row = _split_seat(meant["seat_no"])
        record: dict[str, Any] = {}
        for field in self.v2.fields:
            if field.name == "seat_row":
                record["seat_row"] = seat_row
            elif field.name == "seat_in_row":
                record["seat_in_row"] = seat_in_row
            elif field.name == "seat_label":
                record["seat_label"] = f"R{seat_row}-{seat_in_row}"
            else:
                record[field.name] = meant[old if field.name == new else field.name]
        return record

    def derive(self, record: Mapping[str, Any], version: int) -> dict[str, Any]:
        """The payload (as a dict) a reader of ``version`` derives from a record in its own schema."""
        if version == 1:
            return {field.name: record[field.name] for field in self.v1.fields}
        old, new = self.renamed
        derived = {}
        for field in self.v1.fields:
            if field.name == "seat_no":
                derived["seat_no"] = _join_seat(record["seat_row"], record["seat_in_row"])
            else:
                derived[field.name] = record[new if field.name == old else field.name]
        return derived

    def upcast(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A version 1 record as version 2 writes the same payload: the conversion layer."""
        return self.write(self.derive(record, 1), 2)

    def meaning(self, written: Any) -> dict[str, Any]:
        """What a producer means by ``written`` (a payload), as a dict."""
        return written.model_dump()  # type: ignore[no-any-return]

    def build(self, derived: Mapping[str, Any]) -> Any:
        """The object a reader applies, from what it derived."""
        return self.payload_cls.model_validate(derived)


def _evolve(payload_cls: type[EventPayload], renamed: tuple[str, str], *, defaults: bool,
            aliases: bool) -> Evolution:
    v1 = _version_1(payload_cls)
    old, new = renamed

    def added(name: str, avro_type: str, *, alias: tuple[str, ...] = ()) -> SchemaField:
        return SchemaField(name, avro_type, _ZERO[avro_type] if defaults else REQUIRED, alias)

    fields: list[SchemaField] = []
    for field in v1.fields:
        if field.name == "seat_no":
            fields += [added("seat_row", "int"), added("seat_in_row", "int")]
        elif field.name == old:
            fields.append(added(new, field.type, alias=(old,) if aliases else ()))
        else:
            fields.append(field)
    fields.append(added("seat_label", "string"))
    return Evolution(v1, RecordSchema(payload_cls.TYPE, 2, tuple(fields)), renamed)


LEDGER_ENTRY = "PointLedgerEntry"
"""The schema of the events in Point's event-sourced streams (``concertsim.models.points``): its
ledger entries, stored as records and replayed through Point's reader."""

_OPTIONAL = ("reservation_id", "use_id", "request_key")
"""Ledger entry fields that may be absent: an empty string in a record (for Avro's null union)."""


@dataclass(frozen=True)
class LedgerEvolution(Evolution):
    """Point's stream entries: version 2 renames ``amount`` to ``points`` and adds the signed
    ``delta`` the entry makes to the balance (a new required field unless ``defaults``)."""

    @property
    def payload_cls(self) -> type[EventPayload]:
        raise TypeError("a ledger entry is not an event payload")

    def write(self, meant: Mapping[str, Any], version: int) -> dict[str, Any]:
        record = {name: ("" if name in _OPTIONAL and value is None else value) for name, value in meant.items()}
        if version == 1:
            return record
        record["points"] = record.pop("amount")
        record["delta"] = _LEDGER_SIGN[meant["kind"]] * meant["amount"]
        return {field.name: record[field.name] for field in self.v2.fields}

    def derive(self, record: Mapping[str, Any], version: int) -> dict[str, Any]:
        derived = {field.name: record["points" if version == 2 and field.name == "amount" else field.name]
                   for field in self.v1.fields}
        return {name: (None if name in _OPTIONAL and value == "" else value) for name, value in derived.items()}

    def meaning(self, written: Any) -> dict[str, Any]:
        return {field.name: getattr(written, field.name) for field in self.v1.fields}

    def build(self, derived: Mapping[str, Any]) -> Any:
        return LedgerEntry(**derived)


_LEDGER_SIGN = {"charge": 1, "use": -1, "refund": 1}


def _ledger_evolution(*, defaults: bool, aliases: bool) -> LedgerEvolution:
    def field(name: str, avro_type: str) -> SchemaField:
        return SchemaField(name, avro_type, _ZERO[avro_type])

    v1 = RecordSchema(LEDGER_ENTRY, 1, (
        field("entry_id", "string"), field("user_id", "int"), field("kind", "string"), field("amount", "int"),
        field("at", "double"), field("reservation_id", "string"), field("use_id", "string"),
        field("request_key", "string"),
    ))
    new_default = 0 if defaults else REQUIRED
    v2_fields = [SchemaField("points", "int", new_default, ("amount",) if aliases else ()) if f.name == "amount" else f
                 for f in v1.fields]
    v2_fields.append(SchemaField("delta", "int", new_default))
    return LedgerEvolution(v1, RecordSchema(LEDGER_ENTRY, 2, tuple(v2_fields)), ("amount", "points"))


_RENAMED: dict[str, tuple[type[EventPayload], tuple[str, str]]] = {
    SeatReserved.TYPE: (SeatReserved, ("user_id", "buyer_id")),
    ReservationCompleted.TYPE: (ReservationCompleted, ("amount", "price_paid")),
}

EVOLUTIONS: tuple[str, ...] = (*_RENAMED, LEDGER_ENTRY)
"""The event types with a version 2."""


@lru_cache(maxsize=None)
def evolution(event_type: str, *, defaults: bool = False, aliases: bool = True) -> Evolution:
    """The two versions of ``event_type`` (one of :data:`EVOLUTIONS`): version 2's new fields
    with defaults or required, its renamed field with the old name as alias or without."""
    if event_type == LEDGER_ENTRY:
        return _ledger_evolution(defaults=defaults, aliases=aliases)
    try:
        payload_cls, renamed = _RENAMED[event_type]
    except KeyError:
        raise ValueError(f"{event_type} has no version 2") from None
    return _evolve(payload_cls, renamed, defaults=defaults, aliases=aliases)


# --- a rolling upgrade ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaRollout:
    """A rolling upgrade of one event's schema to version 2: registered (or refused) once, before
    any service ships it; if accepted, the producer writes version 2 from ``producers_at`` and the
    consumers read it natively from ``consumers_at``. ``refused`` is the registry's reason when it
    refused version 2: then nobody ships it and every service stays at version 1."""

    evolution: Evolution
    producers_at: float | None
    consumers_at: float | None
    reader: str
    compatibility: str
    refused: str | None

    @property
    def event_type(self) -> str:
        return self.evolution.v1.event_type

    @property
    def shipped(self) -> bool:
        return self.refused is None

    def written_version(self, now: float) -> int:
        return written_version(now, self.producers_at if self.shipped else None)

    def reader_version(self, now: float) -> int:
        return reader_version(now, self.consumers_at if self.shipped else None)

    def write(self, payload: Any, version: int) -> dict[str, Any]:
        """The record ``payload`` (an event's payload, or a ledger entry) is serialized to by a
        producer of ``version``."""
        return self.evolution.write(self.evolution.meaning(payload), version)

    def read(self, record: Mapping[str, Any], version: int, reads: int) -> Any:
        """The payload a consumer reading ``reads`` natively derives from ``record``, written in
        ``version``. Raises :class:`UnreadableEvent` when its reader cannot read that version or
        the record does not resolve against its schema."""
        evolution = self.evolution
        if not readable(version, reads, self.reader):
            raise UnreadableEvent(self.event_type, version, reads, self.reader)
        try:
            if version < reads and self.reader == "upcasting":
                own = evolution.upcast(resolve(record, evolution.v1, evolution.v1))
            else:
                own = resolve(record, evolution.schema(version), evolution.schema(reads))
        except SchemaMismatch as mismatch:
            raise UnreadableEvent(self.event_type, version, reads, self.reader, reason=mismatch.reason) from None
        return evolution.build(evolution.derive(own, reads))


@lru_cache(maxsize=64)
def plan_rollout(event_type: str, producers_at: float | None, consumers_at: float | None, reader: str, *,
                 compatibility: str = "backward", defaults: bool = False, aliases: bool = True) -> SchemaRollout:
    """The rolling upgrade of ``event_type`` to version 2, after the registry in ``compatibility``
    mode has checked version 2 against version 1."""
    evolved = evolution(event_type, defaults=defaults, aliases=aliases)
    refused = registry_refusal((evolved.v1,), evolved.v2, compatibility)
    return SchemaRollout(evolved, producers_at, consumers_at, reader, compatibility, refused)
