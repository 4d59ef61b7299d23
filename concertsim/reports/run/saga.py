"""One reservation's saga, cut out of a run's trace.

A saga is everything that happened because of one reservation: the client operations about it
(hold, pay), the calls and transactions of those operations, the events raised for it, and every
publish, delivery and handling of those events, plus the faults active meanwhile. Reports draw it
as a sequence diagram; explanations list it.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from concertsim.sim.infrastructure.trace import SEQ, Trace, TraceRecord
from concertsim.sim.run.result import RunResult

__all__ = ["Saga", "saga_of", "describe"]

_EVENT_KINDS = frozenset(
    {"broker.append", "broker.deliver", "broker.delivery_lost", "consumer.handled",
     "consumer.duplicate_skipped", "consumer.failed", "consumer.dropped", "broker.dead_letter",
     "dlq.redriven", "dlq.redrive_failed", "publish.dropped", "broker.publish_unacked", "consumer.unreadable"}
)
_FAULT_KINDS = frozenset({"fault.start", "fault.end", "host.crash", "host.restart",
                          "daemon.crash", "daemon.restart"})


@dataclass(frozen=True)
class Saga:
    reservation_id: str
    records: list[TraceRecord]
    trace_ids: frozenset[str]
    event_ids: frozenset[str]

    @property
    def start(self) -> float:
        return self.records[0].at if self.records else 0.0

    @property
    def end(self) -> float:
        return self.records[-1].at if self.records else 0.0


_SAGAS: weakref.WeakKeyDictionary[Trace, dict[tuple[str, bool], Saga]] = weakref.WeakKeyDictionary()


def saga_of(result: RunResult, reservation_id: str, *, include_faults: bool = True) -> Saga:
    """The records of ``reservation_id``'s saga, in trace order (cut once per trace: a report
    draws and lists the same saga, and each cut reads the whole trace)."""
    cut = _SAGAS.setdefault(result.trace, {})
    key = (reservation_id, include_faults)
    if key not in cut:
        cut[key] = _cut_saga(result, reservation_id, include_faults)
    return cut[key]


def _cut_saga(result: RunResult, reservation_id: str, include_faults: bool) -> Saga:
    trace = result.trace
    trace_ids = {op.op_id for op in result.history if op.detail.get("reservation_id") == reservation_id}
    event_ids: set[str] = set()
    keys: set[str] = set()  # the partition keys of its messages: its seat's and its user's
    for r in trace.of_kind("event.raised"):
        if r.data["payload"].get("reservation_id") == reservation_id:
            event_ids.add(r.data["event_id"])
            payload = r.data["payload"]
            keys.update((r.data["key"], f"user-{payload['user_id']}"))
            if r.trace_id:
                trace_ids.add(r.trace_id)
    # Kind by kind, then into trace order: a streamed trace reads each kind's file once and never
    # merges the whole trace back together for the few records a saga has.
    chosen = sorted((
        r for records in trace.by_kind().values() for r in records
        if (r.trace_id in trace_ids and r.kind != "event.raised")
        or (r.kind == "event.raised" and r.data["event_id"] in event_ids)
        or (r.kind in _EVENT_KINDS and r.data.get("event_id") in event_ids)
    ), key=SEQ)
    if include_faults and chosen:
        start, end = chosen[0].at, chosen[-1].at
        around = list(trace.of_kind(*_FAULT_KINDS, "fault.strike"))
        ended = {r.data["index"]: r.at for r in around if r.kind == "fault.end"}
        faults = [
            r for r in around
            if (r.kind == "fault.start" and r.at <= end and ended.get(r.data["index"], end) >= start)
            or (r.kind in _FAULT_KINDS and r.kind != "fault.start" and start <= r.at <= end)
        ]
        strikes = [
            r for r in around
            if r.kind == "fault.strike" and start <= r.at <= end and r.data.get("key") in keys
        ]
        chosen = sorted({r.seq: r for r in chosen + faults + strikes}.values(), key=lambda r: r.seq)
    return Saga(reservation_id, chosen, frozenset(trace_ids), frozenset(event_ids))


def describe(record: TraceRecord) -> str:
    """One line for a trace record, for explanations and tables."""
    d = record.data
    kind = record.kind
    if kind == "call.send":
        return f"{record.party} → {d['to']}: {d['endpoint']} ({d['call']})"
    if kind == "call.serve":
        return f"{record.party} served {d['endpoint']}: {d['outcome']}"
    if kind == "call.return":
        return f"{record.party} got {d['outcome']} from {d['endpoint']}"
    if kind in ("call.reply_lost", "call.request_lost", "call.late_reply", "call.refused"):
        return f"{kind.split('.')[1].replace('_', ' ')}: {d.get('call')}"
    if kind == "tx.commit":
        events = f", raising {', '.join(d['events'])}" if d.get("events") else ""
        return f"{record.party} committed {d['label']}{events}"
    if kind == "event.raised":
        return f"{record.party} raised {d['type']} {d['event_id']}"
    if kind == "broker.append":
        return f"broker appended {d['type']} {d['event_id']} (partition {d['partition']}, offset {d['offset']})"
    if kind == "broker.deliver":
        return f"broker delivered {d['type']} {d['event_id']} to {d['group']}"
    if kind == "consumer.handled":
        return f"{d['group']} handled {d['type']} {d['event_id']}"
    if kind == "consumer.duplicate_skipped":
        return f"{d['group']} skipped duplicate {d['event_id']}"
    if kind == "fault.start":
        return f"FAULT {d['kind']} on {d['target']} begins"
    if kind == "fault.end":
        return f"FAULT #{d['index']} lifted"
    if kind == "fault.strike":
        return f"FAULT {d['kind']} struck {d['channel']} {d['message_type']} {d['source']}→{d['destination']}"
    if kind.startswith("client."):
        return f"client {kind.split('.')[1]}: {d.get('action')}" + (f" ({d['error']})" if d.get("error") else "")
    facts = ", ".join(f"{k}={v}" for k, v in d.items() if k != "payload")
    return f"{record.party} {kind} {facts}"
