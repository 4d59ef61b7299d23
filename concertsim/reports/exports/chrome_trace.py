"""Chrome trace-event export of a run: open it in Perfetto (ui.perfetto.dev) or chrome://tracing.

One process track per party; a synchronous call is a span on the caller from sending to the
answer (or timeout) and a span on the callee while it served; an event's handling is a span on the
consumer; flow arrows join each call to its serving and each publish to its deliveries, so one
saga reads as one connected chain of arrows; every span carries its saga (``trace``, the client
operation's id); faults and crashes are instant markers. Timestamps are microseconds of simulated
time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.run.result import RunResult

__all__ = ["chrome_trace", "write_chrome_trace"]

_PARTIES = ("client", "gateway", "queue", "reservation", "concert", "point", "data_platform", "broker", "faults")


def _us(seconds: float) -> float:
    return round(seconds * 1_000_000, 3)


def _party(name: str) -> str:
    """The process a party's records are drawn in: its service (replicas of it share one)."""
    return service_of(name.split(":")[-1] if name.startswith(("relay:", "consumer:")) else name)


def chrome_trace(result: RunResult) -> dict[str, Any]:
    pid = {party: index + 1 for index, party in enumerate(_PARTIES)}
    events: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": number, "tid": 0, "ts": 0, "args": {"name": party}}
        for party, number in pid.items()
    ]
    sent: dict[str, Any] = {}
    delivered: dict[tuple[str, str], float] = {}
    flow_ids: dict[object, int] = {}
    saga_of_event: dict[str, str | None] = {}
    for record in result.trace:
        kind, data = record.kind, record.data
        party = record.party.split(":")[-1] if record.party.startswith(("relay:", "consumer:")) else record.party
        if party not in pid:
            party = "broker" if kind.startswith("broker") else "faults"
        if kind == "call.send":
            sent[data["call"]] = record
        elif kind == "call.serve" and data["call"] in sent:
            begun = sent[data["call"]]
            start = data.get("arrived_at", begun.at)
            events.append({"ph": "X", "name": data["endpoint"], "cat": "serve", "pid": pid[party], "tid": 1,
                           "ts": _us(start), "dur": max(_us(record.at) - _us(start), 0.0),
                           "args": {"call": data["call"], "outcome": data["outcome"], "trace": record.trace_id}})
            caller = _party(begun.party)
            if caller in pid:  # the call's arrow: from the caller's call span to this serving
                flow = flow_ids.setdefault(("call", data["call"]), len(flow_ids) + 1)
                events.append({"ph": "s", "id": flow, "name": data["endpoint"], "cat": "call", "pid": pid[caller],
                               "tid": 0, "ts": _us(begun.at)})
                events.append({"ph": "f", "bp": "e", "id": flow, "name": data["endpoint"], "cat": "call",
                               "pid": pid[party], "tid": 1, "ts": _us(start)})
        elif kind == "call.return" and data["call"] in sent:
            begun = sent[data["call"]]
            events.append({"ph": "X", "name": data["endpoint"], "cat": "call", "pid": pid[party], "tid": 0,
                           "ts": _us(begun.at), "dur": max(_us(record.at) - _us(begun.at), 0.0),
                           "args": {"call": data["call"], "outcome": data["outcome"], "to": begun.data["to"],
                                    "trace": record.trace_id}})
        elif kind == "event.raised":
            saga_of_event[data["event_id"]] = record.trace_id
        elif kind == "broker.append":
            flow = flow_ids.setdefault(data["event_id"], len(flow_ids) + 1)
            events.append({"ph": "i", "s": "t", "name": f"publish {data['type']}", "pid": pid["broker"], "tid": 0,
                           "ts": _us(record.at), "args": {"event_id": data["event_id"], "partition": data["partition"]}})
            events.append({"ph": "s", "id": flow, "name": data["type"], "cat": "event", "pid": pid["broker"],
                           "tid": 0, "ts": _us(record.at)})
        elif kind == "broker.deliver":
            delivered[(data["group"], data["event_id"])] = record.at
            flow = flow_ids.get(data["event_id"])
            if flow is not None:
                events.append({"ph": "f", "bp": "e", "id": flow, "name": data["type"], "cat": "event",
                               "pid": pid.get(data["group"], pid["broker"]), "tid": 2, "ts": _us(record.at)})
        elif kind in ("consumer.handled", "consumer.duplicate_skipped"):
            start = delivered.get((data["group"], data["event_id"]), record.at)
            events.append({"ph": "X", "name": f"handle {data.get('type', '')}", "cat": "consume",
                           "pid": pid.get(data["group"], pid["broker"]), "tid": 2, "ts": _us(start),
                           "dur": max(_us(record.at) - _us(start), 0.0),
                           "args": {"event_id": data["event_id"], "duplicate": kind.endswith("skipped"),
                                    "trace": saga_of_event.get(data["event_id"])}})
        elif kind.startswith(("fault.", "host.", "daemon.", "phase.")) or kind == "call.reply_lost":
            events.append({"ph": "i", "s": "p", "name": kind, "pid": pid[party], "tid": 0, "ts": _us(record.at),
                           "args": {k: str(v) for k, v in data.items()}})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"scenario": result.scenario.name, "seed": result.seed, "trace_sha256": result.trace_sha256}}


def write_chrome_trace(result: RunResult, path: Path) -> None:
    path.write_text(json.dumps(chrome_trace(result)), encoding="utf-8")
