"""OpenTelemetry export of a run (OTLP/JSON): a simulated saga opens in the same tracing UI as the
real services (Jaeger, Tempo, Honeycomb, ... through an OpenTelemetry Collector).

One trace per saga: every record of one client operation and everything it caused (its calls,
the events they raised and their handling) shares the operation's trace id. Spans:

- the client operation (``client``, internal), from invoke to its outcome;
- each synchronous call: a client span on the caller from sending to the answer or timeout, and
  a server span on the callee from the request's arrival to its reply; a call made while serving
  another is that one's child;
- each event: a producer span on the raising service from the commit that raised it to its
  append to the broker (the outbox relay's publishing), and a consumer span per consumer group
  from delivery to the end of handling, child of the producer span and linked to it.

Ids are derived from the run's seed and the records (the same run exports the same file); times
are simulated seconds after a fixed epoch, 2000-01-01T00:00:00Z. Per the OTLP/JSON encoding, trace
and span ids are hex strings and enums are integers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.run.result import RunResult

__all__ = ["otlp_trace", "write_otlp_trace", "EPOCH_UNIX_SECONDS"]

EPOCH_UNIX_SECONDS = 946_684_800
"""Simulated time 0 is 2000-01-01T00:00:00Z."""

_INTERNAL, _SERVER, _CLIENT, _PRODUCER, _CONSUMER = 1, 2, 3, 4, 5
_STATUS_OK, _STATUS_ERROR = 1, 2


@dataclass
class _Span:
    service: str
    trace: str
    span_key: str
    name: str
    kind: int
    start: float
    end: float | None = None
    parent_key: str | None = None
    ok: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)
    link_key: str | None = None


def _party(name: str) -> str:
    return service_of(name.split(":", 1)[1] if name.startswith(("relay:", "consumer:")) else name)


class _Builder:
    """Pairs the trace's records into spans in one pass."""

    def __init__(self, messaging_system: str = "kafka") -> None:
        self.messaging_system = messaging_system
        """OpenTelemetry's name of the broker: ``broker.kind`` (kafka, rabbitmq)"""
        self.spans: dict[str, _Span] = {}
        self.calls_in_flight: dict[tuple[str, str], list[str]] = {}
        """(callee, trace) -> calls sent to it and not served yet, oldest first"""
        self.handling: dict[tuple[str, str], list[str]] = {}
        """(service, trace) -> consumer spans open on it"""
        self.raised_in: dict[str, str] = {}

    def enclosing(self, service: str, trace: str) -> str | None:
        """The span that work of ``service`` in ``trace`` happens inside: the newest request it is
        serving, or the newest event it is handling, else the saga's root."""
        serving = self.calls_in_flight.get((service, trace))
        if serving:
            return f"serve:{serving[-1]}"
        handling = self.handling.get((service, trace))
        if handling:
            return handling[-1]
        return f"op:{trace}" if f"op:{trace}" in self.spans else None

    def add(self, record: Any) -> None:
        kind, data, trace = record.kind, record.data, record.trace_id
        if kind == "client.invoke" and trace:
            self.spans[f"op:{trace}"] = _Span("client", trace, f"op:{trace}", data["action"], _INTERNAL,
                                              record.at, attributes={"enduser.id": str(data["user"])})
        elif kind in ("client.ok", "client.fail", "client.unknown") and f"op:{trace}" in self.spans:
            root = self.spans[f"op:{trace}"]
            root.end, root.ok = record.at, kind == "client.ok"
            root.attributes["concertsim.outcome"] = kind.removeprefix("client.")
        elif kind == "call.send" and trace:
            call, caller = data["call"], _party(record.party)
            self.spans[f"call:{call}"] = _Span(
                caller, trace, f"call:{call}", data["endpoint"], _CLIENT, record.at,
                parent_key=self.enclosing(caller, trace),
                attributes={"peer.service": data["to"], "concertsim.call": call})
            self.calls_in_flight.setdefault((data["to"], trace), []).append(call)
        elif kind == "call.return" and f"call:{data['call']}" in self.spans:
            span = self.spans[f"call:{data['call']}"]
            span.end, span.ok = record.at, data["outcome"] == "ok"
            span.attributes["concertsim.outcome"] = data["outcome"]
        elif kind == "call.serve" and f"call:{data['call']}" in self.spans:
            call, service = data["call"], _party(record.party)
            waiting = self.calls_in_flight.get((service, trace), [])
            if call in waiting:
                waiting.remove(call)
            self.spans[f"serve:{call}"] = _Span(
                service, trace, f"serve:{call}", data["endpoint"], _SERVER, data.get("arrived_at", record.at),
                end=record.at, parent_key=f"call:{call}", ok=data["outcome"] == "ok",
                attributes={"concertsim.outcome": data["outcome"], "concertsim.call": call})
        elif kind == "event.raised":
            event_id, service = data["event_id"], _party(record.party)
            saga = trace or f"event:{event_id}"
            self.spans[f"publish:{event_id}"] = _Span(
                service, saga, f"publish:{event_id}", f"publish {data['type']}", _PRODUCER, record.at,
                parent_key=self.enclosing(service, saga) if trace else None,
                attributes={"messaging.system": self.messaging_system, "messaging.message.id": event_id,
                            "messaging.operation.type": "publish"})
        elif kind == "broker.append" and f"publish:{data['event_id']}" in self.spans:
            span = self.spans[f"publish:{data['event_id']}"]
            if span.end is None:
                span.end = record.at
                span.attributes["messaging.destination.name"] = data["topic"]
                span.attributes["messaging.destination.partition.id"] = str(data["partition"])
        elif kind == "broker.deliver" and f"publish:{data['event_id']}" in self.spans:
            producer = self.spans[f"publish:{data['event_id']}"]
            key = f"consume:{data['group']}:{data['event_id']}:{record.seq}"
            self.spans[key] = _Span(
                data["group"], producer.trace, key, f"handle {data['type']}", _CONSUMER, record.at,
                parent_key=producer.span_key, link_key=producer.span_key,
                attributes={"messaging.system": self.messaging_system, "messaging.consumer.group.name": data["group"],
                            "messaging.message.id": data["event_id"], "messaging.operation.type": "process"})
            self.handling.setdefault((data["group"], producer.trace), []).append(key)
        elif kind in ("consumer.handled", "consumer.duplicate_skipped", "consumer.dropped") or (
                kind == "broker.dead_letter"):
            self._end_handling(record)

    def _end_handling(self, record: Any) -> None:
        data = record.data
        producer = self.spans.get(f"publish:{data.get('event_id')}")
        if producer is None or "group" not in data:
            return
        open_spans = self.handling.get((data["group"], producer.trace), [])
        for key in open_spans:
            if key.startswith(f"consume:{data['group']}:{data['event_id']}:"):
                span = self.spans[key]
                span.end, span.ok = record.at, record.kind in ("consumer.handled", "consumer.duplicate_skipped")
                span.attributes["concertsim.outcome"] = record.kind
                open_spans.remove(key)
                return


def _hex(seed: int, text: str, length: int) -> str:
    return hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:length]


def _nanos(at: float) -> str:
    return str(round((EPOCH_UNIX_SECONDS + at) * 1_000_000_000))


def _value(value: Any) -> dict[str, Any]:
    return {"stringValue": str(value)}


def otlp_trace(result: RunResult) -> dict[str, Any]:
    """The run as an OTLP ``ExportTraceServiceRequest`` in its JSON encoding. Spans whose end was
    never traced (a crash cut them short, the run ended first) end where they started and carry
    ``concertsim.unfinished``."""
    builder = _Builder(result.scenario.broker.kind)
    for record in result.trace:
        builder.add(record)
    seed = result.seed
    by_service: dict[str, list[dict[str, Any]]] = {}
    for span in builder.spans.values():
        parent = builder.spans.get(span.parent_key) if span.parent_key else None
        attributes = dict(span.attributes)
        if span.end is None:
            attributes["concertsim.unfinished"] = "true"
        encoded: dict[str, Any] = {
            "traceId": _hex(seed, f"trace:{span.trace}", 32),
            "spanId": _hex(seed, span.span_key, 16),
            "name": span.name,
            "kind": span.kind,
            "startTimeUnixNano": _nanos(span.start),
            "endTimeUnixNano": _nanos(span.end if span.end is not None else span.start),
            "attributes": [{"key": key, "value": _value(value)} for key, value in attributes.items()],
            "status": {"code": _STATUS_OK if span.ok else _STATUS_ERROR},
        }
        if parent is not None and parent.trace == span.trace:
            encoded["parentSpanId"] = _hex(seed, parent.span_key, 16)
        if span.link_key is not None:
            encoded["links"] = [{"traceId": encoded["traceId"], "spanId": _hex(seed, span.link_key, 16)}]
        by_service.setdefault(span.service, []).append(encoded)
    return {"resourceSpans": [
        {"resource": {"attributes": [
            {"key": "service.name", "value": _value(service)},
            {"key": "concertsim.scenario", "value": _value(result.scenario.name)},
            {"key": "concertsim.seed", "value": _value(seed)},
        ]},
         "scopeSpans": [{"scope": {"name": "concertsim"}, "spans": spans}]}
        for service, spans in sorted(by_service.items())
    ]}


def write_otlp_trace(result: RunResult, path: Path) -> None:
    path.write_text(json.dumps(otlp_trace(result)), encoding="utf-8")
