"""The Kafka-like broker: partition by the aggregate's key (seed 4.2.3)."""

from __future__ import annotations

from .defect import Defect, BOTH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="broker-partitions-by-event-id",
        path="concertsim/sim/messaging/kafka.py",
        before="zlib.crc32(event.key.encode()) % self.partitions",
        after="zlib.crc32(event.event_id.encode()) % self.partitions",
        flows=BOTH,
        why="Hashing the event id instead of the aggregate key spreads one seat's events over "
        "partitions, so a delayed SeatReservedEvent can land after its ReservationCompletedEvent "
        "(seat-view-converges).",
        witness=(
            faults(
                "{at: 0, kind: delay, target: delivery, params: {seconds: 30},"
                " match: {message_type: SeatReservedEvent, group: concert, count: 1}}"
            ),
        ),
    ),
    Defect(
        id="broker-partition-modulo-off-by-one",
        path="concertsim/sim/messaging/kafka.py",
        before="zlib.crc32(event.key.encode()) % self.partitions",
        after="zlib.crc32(event.key.encode()) % (self.partitions + 1)",
        flows=BOTH,
        why="Hashing over one partition more than the topic's consumers read (a count taken for a "
        "highest index) appends some keys' events to a partition no consumer group reads "
        "(no-lost-events).",
        witness=(),
    ),
)
