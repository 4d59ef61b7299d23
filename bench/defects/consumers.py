"""Consumers: handle each event, record it in the inbox, commit the offset (seed 4.2.3)."""

from __future__ import annotations

from .defect import Defect, BOTH, RICH, faults

DEFECTS: tuple[Defect, ...] = (
    Defect(
        id="consumer-commits-before-handling",
        path="concertsim/sim/messaging/consumer.py",
        before=(
            "            yield from handle_with_retries(\n"
            "                host, broker, group, topic, partition, message_offset, event, work, policy\n"
            "            )"
        ),
        after=(
            "            host.spawn(handle_with_retries(\n"
            "                host, broker, group, topic, partition, message_offset, event, work, policy\n"
            "            ))"
        ),
        flows=BOTH,
        why="Handing each event to a background worker so the poll loop keeps up commits the "
        "batch's offset before its events are handled and lets one key's events race, so a "
        "consumer crash loses events and projections apply them out of order (no-lost-events, "
        "seat-view-converges).",
        witness=(
            *RICH, faults("{at: 3.5944, kind: crash, target: data_platform}"),
        ),
    ),
    Defect(
        id="consumer-inbox-only-when-events-raised",
        path="concertsim/sim/messaging/consumer.py",
        before="        if dedup:\n            tx.mark_processed(group, event.event_id)",
        after="        if dedup and raised:\n            tx.mark_processed(group, event.event_id)",
        flows=BOTH,
        why="Recording an event as processed only when handling raised follow-up events leaves "
        "the pure projections (Concert, Data Platform, Queue) without de-duplication, so a "
        "redelivered ReservationCompletedEvent is counted twice (data-platform-exactly-once, "
        "ranking-converges).",
        witness=(
            faults("{at: 0, kind: duplicate, target: publish, match: {message_type: ReservationCompletedEvent}}"),
        ),
    ),
    Defect(
        id="consumer-commits-past-lost-delivery",
        path="concertsim/sim/messaging/consumer.py",
        before="            batch = batch[:delivered]\n",
        after="",
        flows=BOTH,
        why="Committing the whole fetched batch after one of its deliveries was lost in transit "
        "skips that event for good instead of fetching it again (no-lost-events).",
        witness=(
            faults("{at: 0, kind: drop, target: delivery, match: {message_type: ReservationCompletedEvent, count: 1}}"),
        ),
    ),
    Defect(
        id="consumer-parked-key-checked-by-event-id",
        path="concertsim/sim/messaging/consumer.py",
        before="broker.is_key_parked(group, event.key)",
        after="broker.is_key_parked(group, event.event_id)",
        flows=BOTH,
        why="Asking whether the event's id, not its aggregate key, is parked lets a younger event "
        "of a seat overtake an older one waiting in the dead-letter topic, so the redriven older "
        "event is applied last (seat-view-converges).",
        witness=(
            faults("{at: 2, kind: commit_failure, target: concert, duration: 5}"),
        ),
    ),
)
