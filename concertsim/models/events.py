"""Versioned event schemas and the envelope every event travels in.

An event is raised by a domain function inside a local transaction and carried unchanged through
outbox, broker and consumers. The envelope (ARCHITECTURE.md) holds what the infrastructure needs:

- ``event_id``: unique within a run; the inbox de-duplicates on it (seed 4.2.3).
- ``type`` and ``version``: the schema of ``payload`` (seed 6, event versioning); during a
  schema upgrade, ``body`` is the payload serialized in that version's schema, what a consumer
  parses (``concertsim.models.schemas``).
- ``occurred_at``: the simulated time the raising service's clock showed (seed 4.2.3 timestamps).
- ``key``: the partition key, the aggregate the event is about (seed 4.2.3 ordering).
- ``trace_id`` / ``causation_id``: the saga the event belongs to and the event or call that caused it.

Payloads are pydantic models, validated when the event is raised; the envelope is a frozen
pydantic model too, so a delivered event cannot be altered by a consumer.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Event",
    "EventPayload",
    "SeatReserved",
    "ReservationCompleted",
    "ReservationExpired",
    "ReservationFailed",
    "PointCharged",
    "PointUsed",
    "PointRefunded",
    "QueueTokenActivated",
    "QueueTokenExpired",
    "PAYLOAD_TYPES",
    "upcast",
    "seat_key",
    "READERS",
    "written_version",
    "reader_version",
    "readable",
]


_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _shared_fields_set(names: set[str]) -> set[str]:
    """One set object for every event that was given the same fields. Pydantic keeps, per model
    instance, the set of field names it was given (``model_fields_set``): about 700 bytes for an
    envelope's nine, two sets per event, which were a third of the memory a run keeps per user.
    Sharing is safe for these frozen models: nothing adds to an instance's set in place
    (``model_copy(update=...)`` copies it first)."""
    key = frozenset(names)
    shared = _FIELDS_SETS.get(key)
    if shared is None:
        shared = _FIELDS_SETS[key] = set(key)
    return shared


class EventPayload(BaseModel):
    """Base of every payload. Subclasses set ``TYPE`` (the wire name) and ``VERSION``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(self, "__pydantic_fields_set__", _shared_fields_set(self.__pydantic_fields_set__))

    def partition_key(self) -> str:
        """The aggregate this event is about: events with one key keep their order (seed 4.2.3)."""
        raise NotImplementedError


class _SeatEvent(EventPayload):
    """An event about one seat of one date. All of a seat's events share a partition key, so a
    hold, its expiry and a later hold by someone else reach Concert in the order they happened."""

    date_id: int
    seat_no: int

    def partition_key(self) -> str:
        return seat_key(self.date_id, self.seat_no)


class _UserEvent(EventPayload):
    user_id: int

    def partition_key(self) -> str:
        return f"user-{self.user_id}"


def seat_key(date_id: int, seat_no: int) -> str:
    """The partition key of a seat."""
    return f"seat-{date_id}-{seat_no}"


class SeatReserved(_SeatEvent):
    """A seat was held for a reservation (seed 3.2). Concert marks the seat held."""

    TYPE: ClassVar[str] = "SeatReservedEvent"
    reservation_id: str
    user_id: int
    hold_expires_at: float


class ReservationCompleted(_SeatEvent):
    """A reservation was paid and confirmed (seed 3.1). Feeds the ranking and Data Platform."""

    TYPE: ClassVar[str] = "ReservationCompletedEvent"
    reservation_id: str
    user_id: int
    amount: int
    confirmed_at: float


class ReservationExpired(_SeatEvent):
    """An unpaid hold reached its TTL and the seat was released (seed 4.1, problem 3)."""

    TYPE: ClassVar[str] = "ReservationExpiredEvent"
    reservation_id: str
    user_id: int


class ReservationFailed(_SeatEvent):
    """A payment could not be completed after points may have been used (seed 4.2.2).

    Point consumes it and refunds whatever it deducted for ``reservation_id`` (the compensation).
    """

    TYPE: ClassVar[str] = "ReservationFailedEvent"
    reservation_id: str
    user_id: int
    amount: int
    reason: str


class PointCharged(_UserEvent):
    TYPE: ClassVar[str] = "PointChargedEvent"
    amount: int
    balance: int


class PointUsed(_UserEvent):
    """Points were deducted for a reservation (seed 4.2.1); in the choreography flow Reservation
    confirms on it."""

    TYPE: ClassVar[str] = "PointUsedEvent"
    use_id: str
    reservation_id: str
    amount: int
    balance: int


class PointRefunded(_UserEvent):
    """A deduction was given back (seed 4.2.2)."""

    TYPE: ClassVar[str] = "PointRefundedEvent"
    use_id: str
    reservation_id: str
    amount: int
    balance: int


class QueueTokenActivated(_UserEvent):
    TYPE: ClassVar[str] = "QueueTokenActivatedEvent"
    token_id: str


class QueueTokenExpired(_UserEvent):
    TYPE: ClassVar[str] = "QueueTokenExpiredEvent"
    token_id: str
    reason: Literal["idle", "completed", "left"]


PAYLOAD_TYPES: dict[str, type[EventPayload]] = {
    cls.TYPE: cls
    for cls in (
        SeatReserved,
        ReservationCompleted,
        ReservationExpired,
        ReservationFailed,
        PointCharged,
        PointUsed,
        PointRefunded,
        QueueTokenActivated,
        QueueTokenExpired,
    )
}


class Event(BaseModel):
    """The envelope. Immutable; ``payload`` is the typed body named by ``type`` and ``version``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    type: str
    version: int = Field(ge=1)
    occurred_at: float
    key: str
    trace_id: str
    causation_id: str | None = None
    payload: EventPayload
    body: dict[str, Any] | None = None
    """The payload serialized as the writer's schema ``version`` has it, when the event's schema
    is being upgraded (``concertsim.models.schemas``): what the outbox stores and the broker
    carries, and all a consumer may read. None: the payload travels in its own shape."""

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        event_id: str,
        occurred_at: float,
        key: str,
        trace_id: str,
        causation_id: str | None = None,
        version: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> Event:
        """Put ``payload`` in an envelope whose ``type`` comes from the payload class, and its
        ``version`` too unless given (a producer part-way through a schema upgrade, which also
        gives the ``body`` it serialized the payload to).

        The envelope is assembled from parts already validated (the payload is a model, the rest
        are the producer's own ids, clock and key), so it is constructed without validating them
        again: a third of the cost of raising an event."""
        return cls.model_construct(
            _ENVELOPE_FIELDS,
            event_id=event_id,
            type=payload.TYPE,
            version=payload.VERSION if version is None else version,
            occurred_at=occurred_at,
            key=key,
            trace_id=trace_id,
            causation_id=causation_id,
            payload=payload,
            body=body,
        )

    def to_record(self) -> dict[str, Any]:
        """A plain-JSON dict of the envelope (for traces and reports), with its ``body`` when it
        has one."""
        record = {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at,
            "key": self.key,
            "trace_id": self.trace_id,
            "causation_id": self.causation_id,
            "payload": self.payload.model_dump(),
        }
        if self.body is not None:
            record["body"] = dict(self.body)
        return record


def upcast(type_name: str, version: int, body: dict[str, Any]) -> EventPayload:
    """Parse a serialized payload of any known version into the current schema.

    Every payload class is version 1, the payload's own shape; the seat events' version 2 records
    and their readers are ``concertsim.models.schemas`` (seed 6, event versioning).
    """
    try:
        payload_cls = PAYLOAD_TYPES[type_name]
    except KeyError:
        raise ValueError(f"unknown event type {type_name!r}") from None
    if version != payload_cls.VERSION:
        raise ValueError(
            f"{type_name} version {version} has no conversion to version {payload_cls.VERSION}"
        )
    return payload_cls.model_validate(body)


# --- schema versions during a rolling upgrade (seed 6.3) --------------------------------------------

READERS = ("strict", "tolerant", "upcasting")
"""How a consumer reads a version it was not written for: ``strict`` not at all; ``tolerant``
reads both, resolving the record against its own schema as Avro does (a field it does not know is
ignored, one that is missing takes its default, and one missing without a default makes the
record unreadable: ``concertsim.models.schemas.resolve``); ``upcasting`` (a conversion layer)
converts an older version up to its own, but cannot read a newer one."""


def written_version(now: float, switch_at: float | None) -> int:
    """The version a producer writes at ``now`` if it switches from 1 to 2 at ``switch_at``."""
    return 2 if switch_at is not None and now >= switch_at else 1


def reader_version(now: float, switch_at: float | None) -> int:
    """The version a consumer reads natively at ``now`` if it is upgraded at ``switch_at``."""
    return 2 if switch_at is not None and now >= switch_at else 1


def readable(version: int, reads: int, reader: str) -> bool:
    """Whether a consumer that natively reads version ``reads``, with ``reader`` (one of
    :data:`READERS`), tries to read an event written in ``version`` at all; a record it tries
    may still fail to resolve (``concertsim.models.schemas.SchemaRollout.read``)."""
    if version == reads or reader == "tolerant":
        return True
    return reader == "upcasting" and version < reads


_ENVELOPE_FIELDS = _shared_fields_set(set(Event.model_fields))
"""What :meth:`Event.wrap` gives: every field of the envelope."""
