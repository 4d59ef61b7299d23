"""Event processing per consumer group: how old an event is when a group handles it, how long the
handling takes, and what went wrong on the way.

- *age*: from the event's raising (the commit that wrote it, ``event.raised``) to the group's first
  successful handling (``consumer.handled``); ``age_from_append_ms`` starts at the event's first
  append to the broker instead, so the difference is the time it spent in the outbox.
- *handling time*: from the delivery (``broker.deliver``: the consumer takes the event up) to its
  handling or its skipping as a duplicate: waiting for a worker, the service time, the
  transaction, and any failed attempts with their backoff. A parked event handled later by a
  re-drive has no delivery and no handling time.
- counts per group: ``deliveries`` and ``redeliveries`` (deliveries of an event the group had been
  given before), ``handled``, ``duplicates_skipped`` (the inbox knew the event), ``failures``
  (failed attempts, each retried or followed by a park or drop), ``dead_lettered`` (parked,
  including events parked behind a parked one of their key), ``dropped`` (lost for want of a
  dead-letter topic), ``redriven`` / ``redrive_failed``, and ``never_handled`` (events of a type
  the group handles that it never handled nor skipped by the end of the run).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from concertsim.metrics.distribution import summarize_ms
from concertsim.metrics.records import RecordsByKind, in_trace_order

__all__ = ["event_processing", "GROUP_COUNTS"]

GROUP_COUNTS = (
    "deliveries", "redeliveries", "handled", "duplicates_skipped", "failures", "dead_lettered",
    "dropped", "redriven", "redrive_failed", "never_handled",
)

_ENDS = frozenset({"consumer.handled", "consumer.duplicate_skipped", "broker.dead_letter", "consumer.dropped"})


def _group_of(record: Any) -> str:
    """The consumer group a record speaks of (the broker's and the consumers' records name it in
    ``data``; dead letters and re-drives by their party)."""
    return record.data.get("group", record.party)


def event_processing(records: RecordsByKind, subscriptions: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """group -> the group's counts (:data:`GROUP_COUNTS`), ``age_ms`` and ``age_from_append_ms``
    (p50, p95, max) and ``handling_ms`` (p50, p95, max). ``subscriptions`` maps each event type to
    the groups that handle it (``RunResult.subscriptions``)."""
    raised_at: dict[str, float] = {}
    types: dict[str, str] = {}
    for record in records.get("event.raised", ()):
        raised_at[record.data["event_id"]] = record.at
        types[record.data["event_id"]] = record.data["type"]
    appended_at: dict[str, float] = {}
    for record in records.get("broker.append", ()):
        appended_at.setdefault(record.data["event_id"], record.at)

    counts: dict[str, Counter[str]] = {}
    ages: dict[str, list[float]] = {}
    ages_from_append: dict[str, list[float]] = {}
    handling: dict[str, list[float]] = {}
    handled_events: dict[str, set[str]] = {}
    delivered: set[tuple[str, str]] = set()
    taken_up_at: dict[tuple[str, str], float] = {}

    def stats(group: str) -> Counter[str]:
        if group not in counts:
            counts[group] = Counter()
            ages[group], ages_from_append[group], handling[group] = [], [], []
            handled_events[group] = set()
        return counts[group]

    for record in in_trace_order(records, "broker.deliver", *sorted(_ENDS)):
        kind, group, event_id = record.kind, _group_of(record), record.data["event_id"]
        tally = stats(group)
        address = (group, event_id)
        if kind == "broker.deliver":
            tally["deliveries"] += 1
            if address in delivered:
                tally["redeliveries"] += 1
            delivered.add(address)
            taken_up_at[address] = record.at
            continue
        started = taken_up_at.pop(address, None)
        if kind == "broker.dead_letter":
            tally["dead_lettered"] += 1
            continue
        if kind == "consumer.dropped":
            tally["dropped"] += 1
            continue
        if started is not None:
            handling[group].append(record.at - started)
        if kind == "consumer.duplicate_skipped":
            tally["duplicates_skipped"] += 1
            handled_events[group].add(event_id)
            continue
        tally["handled"] += 1
        if event_id in handled_events[group]:
            continue  # handled again (no inbox): the event's age is that of its first handling
        handled_events[group].add(event_id)
        if event_id in raised_at:
            ages[group].append(record.at - raised_at[event_id])
        if event_id in appended_at:
            ages_from_append[group].append(record.at - appended_at[event_id])

    for kind, name in (("consumer.failed", "failures"), ("dlq.redriven", "redriven"),
                       ("dlq.redrive_failed", "redrive_failed")):
        for record in records.get(kind, ()):
            stats(_group_of(record))[name] += 1
    handled_types: dict[str, set[str]] = {}
    for event_type, groups in subscriptions.items():
        for group in groups:
            stats(group)
            handled_types.setdefault(group, set()).add(event_type)
    for group, wanted in handled_types.items():
        counts[group]["never_handled"] = sum(
            1 for event_id, event_type in types.items()
            if event_type in wanted and event_id not in handled_events[group]
        )

    return {
        group: {
            **{name: counts[group].get(name, 0) for name in GROUP_COUNTS},
            "age_ms": _spread(ages[group]),
            "age_from_append_ms": _spread(ages_from_append[group]),
            "handling_ms": _spread(handling[group]),
        }
        for group in sorted(counts)
    }


def _spread(seconds: list[float]) -> dict[str, float | None]:
    summary = summarize_ms(seconds, quantiles=(50, 95))
    return {name: summary[name] for name in ("p50_ms", "p95_ms", "max_ms")}  # type: ignore[misc]
