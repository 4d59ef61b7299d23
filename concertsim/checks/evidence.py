"""The trace records that prove a violation: the sequence numbers a :class:`Violation` carries.

Most checks judge a run on its final tables and its client history; a reader of a violation needs
the records that show it happening (the deduction, the failure that should have refunded it, the
payment the client was told had failed). :class:`TraceIndex` finds them by the ids a violation
names: event, reservation, deduction, user, client operation, seat.

The index is built in one pass over the trace, and only when a check has a violation to prove, so
a run whose promises hold costs nothing more. Every answer is a sorted tuple of sequence numbers,
so the same run always gives the same evidence.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable

from concertsim.sim.infrastructure.trace import Trace, TraceRecord
from concertsim.sim.run.result import RunResult

__all__ = ["TraceIndex", "trace_index", "seqs", "raised_per_party", "plan_steps_of"]

_CLIENT_END = ("client.ok", "client.fail", "client.unknown")
_IN_PAYLOAD = ("reservation_id", "use_id", "user_id", "token_id")
_PHASES = ("phase.workload", "phase.heal", "phase.settled", "phase.settle_deadline",
           "phase.settle_events")
_EVENT_FATES = frozenset({
    "broker.append", "publish.dropped", "broker.publish_unacked", "broker.delivery_lost",
    "consumer.handled", "consumer.duplicate_skipped", "consumer.failed", "consumer.dropped",
    "consumer.unreadable", "broker.dead_letter", "dlq.redriven", "dlq.redrive_failed",
})
_BY_GROUP = frozenset({"consumer.handled", "consumer.duplicate_skipped", "consumer.dropped",
                       "broker.dead_letter", "dlq.redriven", "dlq.redrive_failed"})


def plan_steps_of(result: RunResult, service: str) -> list[TraceRecord]:
    """The ``migration.step`` records of the move of ``service`` (a chained plan records every
    move's steps in one trace)."""
    return [r for r in result.trace.of_kind("migration.step") if r.data["service"] == service]


def seqs(*groups: Iterable[int]) -> tuple[int, ...]:
    """The sequence numbers of ``groups`` as one sorted tuple without repeats."""
    return tuple(sorted({seq for group in groups for seq in group}))


class TraceIndex:
    """Sequence numbers of a finished run's records, looked up by the ids a violation names."""

    def __init__(self, trace: Trace) -> None:
        self.raised: dict[str, int] = {}
        """event id -> its ``event.raised`` record"""
        self._raised_by: dict[tuple[str, object], list[tuple[int, str]]] = defaultdict(list)
        self._seat_events: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._fates: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
        self._client: dict[str, list[int]] = defaultdict(list)
        self._by_kind: dict[str, list[int]] = defaultdict(list)
        for record in trace.of_kind("event.raised", *_EVENT_FATES, "client.invoke", *_CLIENT_END, *_PHASES):
            kind, data = record.kind, record.data
            if kind == "event.raised":
                self.raised[data["event_id"]] = record.seq
                payload = data["payload"]
                for name in _IN_PAYLOAD:
                    if name in payload:
                        self._raised_by[(name, payload[name])].append((record.seq, data["type"]))
                if "seat_no" in payload:
                    self._seat_events[(payload["date_id"], payload["seat_no"])].append(record.seq)
            elif kind in _EVENT_FATES and "event_id" in data:
                group = data.get("group") or (record.party if kind in _BY_GROUP else None)
                self._fates[data["event_id"]].append((record.seq, None if group is None else str(group)))
            elif kind == "client.invoke" or kind in _CLIENT_END:
                if record.trace_id is not None:
                    self._client[record.trace_id].append(record.seq)
            elif kind.startswith("phase."):
                self._by_kind[kind].append(record.seq)
        self.last = len(trace) - 1

    def events(self, field: str, value: object, *types: str) -> list[int]:
        """The ``event.raised`` records whose payload has ``field`` = ``value`` (of ``types``, if
        given)."""
        return [seq for seq, kind in self._raised_by.get((field, value), ()) if not types or kind in types]

    def seat_events(self, date_id: int, seat_no: int) -> list[int]:
        """Every event raised about one seat."""
        return list(self._seat_events.get((date_id, seat_no), ()))

    def fate(self, event_id: str, group: str | None = None) -> list[int]:
        """What became of an event after it was raised: its publishes (or their loss), and its
        deliveries' handling, skipping, failure, drop or parking (for ``group`` only, if given)."""
        return [seq for seq, by in self._fates.get(event_id, ()) if group is None or by in (None, group)]

    def client_op(self, op_id: str) -> list[int]:
        """A client operation's invocation and the record of how it ended."""
        return list(self._client.get(op_id, ()))

    def phase(self, kind: str) -> list[int]:
        """The ``phase.*`` records of one kind (``phase.heal``, ``phase.settled``, ...)."""
        return list(self._by_kind.get(kind, ()))


_INDEXES: weakref.WeakKeyDictionary[Trace, TraceIndex] = weakref.WeakKeyDictionary()


def trace_index(result: RunResult) -> TraceIndex:
    """The index of ``result``'s trace, built on first use and shared by every check of the run."""
    index = _INDEXES.get(result.trace)
    if index is None or index.last != len(result.trace) - 1:
        index = _INDEXES[result.trace] = TraceIndex(result.trace)
    return index


def raised_per_party(
    result: RunResult, types: Iterable[str], *, parties: Iterable[str] | None = None, key: str = "reservation_id"
) -> dict[str, dict[str, list[int]]]:
    """The events of ``types`` raised (by one of ``parties``, if given), grouped by their payload's
    ``key`` and then by the party that raised them: the sequence numbers of each. Events without the
    key are left out. One payment that two stores served shows as two parties under its id."""
    wanted, allowed = set(types), None if parties is None else set(parties)
    grouped: dict[str, dict[str, list[int]]] = {}
    for record in result.trace.of_kind("event.raised"):
        if record.data["type"] not in wanted or (allowed is not None and record.party not in allowed):
            continue
        value = record.data["payload"].get(key)
        if value is not None:
            grouped.setdefault(value, {}).setdefault(record.party, []).append(record.seq)
    return grouped
