"""A rolling upgrade of an event's schema (seed 6.3, event versioning) keeps what consumers read.

``events-readable``: no consumer refuses an event it is delivered. Judged on the
``consumer.unreadable`` records: a consumer refused an event because it was written in a version
its reader could not read then, or whose record did not resolve against its schema (a required
field missing). The message names the order of the upgrade that broke (producers or consumers
first) and the reader that would have kept it readable.

``events-read-as-written``: what a consumer derives from a record is what its producer meant. A
reader that resolves a record it was not written for may read a renamed or split field as its
default (a buyer 0, a seat 0, an amount of 0) without refusing anything; judged by comparing each
``consumer.read`` payload with the producer's ``event.raised`` payload, field by field.

For Point's stream events (``PointLedgerEntry``) the consumer is Point replaying its own streams:
both invariants also judge each stored record as Point's reader at the end of the run reads it,
against the ledger row Point meant, and ``events-readable`` counts the requests and handlings
Point refused because a replay could not read an event (``unreadable-event``).
"""

from __future__ import annotations

import math
from typing import Any

from concertsim.checks.applicability import schema_read, schema_upgraded
from concertsim.checks.base import Violation, invariant
from concertsim.checks.money.points_ledger import point_events
from concertsim.models import points
from concertsim.models.errors import UnreadableEvent
from concertsim.models.schemas import LEDGER_ENTRY
from concertsim.sim.run.result import RunResult


def _order(producers_at: float | None, consumers_at: float | None) -> str:
    if producers_at is None:
        return "only the consumers were upgraded" if consumers_at is not None else "nothing was upgraded"
    if consumers_at is None:
        return f"the producer switched to v2 at {producers_at:g} s and the consumers never did"
    first = "the producer" if producers_at < consumers_at else "the consumers"
    return f"{first} went first (producer at {producers_at:g} s, consumers at {consumers_at:g} s)"


_FIX = {
    1: "reading v2 before being upgraded needs a tolerant reader",
    2: "reading v1 after being upgraded needs a tolerant or an upcasting reader",
}


def _because(data: dict[str, Any]) -> str:
    reason = data.get("reason")
    return f" ({reason})" if reason else ""


@invariant(
    "events-readable",
    "safety",
    "During a rolling upgrade of an event's schema, every consumer can read every event it is "
    "delivered, in whichever version it was written.",
    applies=schema_upgraded,
)
def events_readable(result: RunResult) -> list[Violation]:
    upgrade = result.scenario.schema_upgrade
    if upgrade is None:
        return []
    order = _order(upgrade.producers_at, upgrade.consumers_at)
    violations = []
    for record in result.trace.of_kind("consumer.unreadable"):
        data = record.data
        violations.append(Violation(
            "events-readable",
            f"{data['group']} could not read {data['type']} v{data['version']} ({data['event_id']}): it read "
            f"v{data['reads']} with {'an' if data['reader'][0] in 'aeiou' else 'a'} {data['reader']} reader"
            f"{_because(data)}; {order}, and {_FIX[data['reads']]}",
            at=record.at,
            evidence={"event_id": data["event_id"], "group": data["group"], "version": data["version"],
                      "reads": data["reads"], "reader": data["reader"]},
            records=(record.seq,),
        ))
    rollout = result.scenario.schema_rollout()
    if rollout is not None and rollout.shipped and rollout.event_type == LEDGER_ENTRY:
        violations += _stream_refusals(result, order)
    return violations


def _stream_refusals(result: RunResult, order: str) -> list[Violation]:
    """Point refusing a request or a refund because a stream event it replays cannot be read, and
    the stream events Point's final reader cannot read."""
    violations = []
    for record in result.trace.of_kind("call.serve", "consumer.failed"):
        data = record.data
        refused = (data.get("outcome") == "unreadable-event" if record.kind == "call.serve"
                   else str(data.get("reason", "")).startswith(f"UnreadableEvent({LEDGER_ENTRY}"))
        if refused:
            what = data.get("endpoint") or f"the {data['group']} handling of {data['event_id']}"
            violations.append(Violation(
                "events-readable",
                f"{record.party} could not replay an account's stream for {what}: a {LEDGER_ENTRY} it holds "
                f"is in a version its reader cannot read; {order}",
                at=record.at, evidence={"party": record.party, "kind": record.kind}, records=(record.seq,),
            ))
    for service, user_id, entry_id, version, outcome in _replayed_at_the_end(result):
        if isinstance(outcome, UnreadableEvent):
            violations.append(Violation(
                "events-readable",
                f"{service} cannot replay user {user_id}'s stream after the upgrade: {entry_id} ({LEDGER_ENTRY} "
                f"v{version}) is unreadable to its v{outcome.reader_version} {outcome.reader} reader"
                f"{f' ({outcome.reason})' if outcome.reason else ''}; {order}",
                evidence={"service": service, "user_id": user_id, "entry_id": entry_id, "version": version},
                records=point_events(result, user_id),
            ))
    return violations


def _replayed_at_the_end(result: RunResult) -> list[tuple[str, int, str, int, Any]]:
    """(service, user, entry id, written version, outcome) for every stream event stored as a
    record: the outcome is (the entry as Point's reader at the end of the run reads it, the entry
    Point meant), or the :class:`UnreadableEvent` that reader raises."""
    rollout = result.scenario.schema_rollout()
    assert rollout is not None
    reads = rollout.reader_version(math.inf)
    found = []
    for service in sorted(result.state):
        stored = result.table(service, points.STREAM_RECORDS)
        for entry_id in sorted(stored):
            version, record = stored[entry_id]
            try:
                read: Any = rollout.read(record, version, reads)
            except UnreadableEvent as refused:
                read = refused
            meant = result.table(service, points.LEDGER)[entry_id]
            found.append((service, meant.user_id, str(entry_id), version, (read, meant)
                          if not isinstance(read, UnreadableEvent) else read))
    return found


def _differences(meant: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    return [f"{name} {derived.get(name)!r} instead of {value!r}"
            for name, value in meant.items() if derived.get(name) != value]


@invariant(
    "events-read-as-written",
    "safety",
    "During a rolling upgrade of an event's schema, every consumer derives from each event it "
    "reads the payload its producer wrote, whichever versions wrote and read it: no field is read "
    "as a default in place of the value sent.",
    applies=schema_read,
)
def events_read_as_written(result: RunResult) -> list[Violation]:
    upgrade = result.scenario.schema_upgrade
    rollout = result.scenario.schema_rollout()
    if upgrade is None or rollout is None or not rollout.shipped:
        return []
    order = _order(upgrade.producers_at, upgrade.consumers_at)
    if rollout.event_type == LEDGER_ENTRY:
        return _streams_replayed_as_written(result, order)
    meant = {r.data["event_id"]: r for r in result.trace.of_kind("event.raised") if r.data["type"] == rollout.event_type}
    violations = []
    judged: set[tuple[str, str]] = set()
    for record in result.trace.of_kind("consumer.read"):
        data = record.data
        if (data["group"], data["event_id"]) in judged:
            continue
        judged.add((data["group"], data["event_id"]))
        raised = meant.get(data["event_id"])
        if raised is None:
            continue
        wrong = _differences(raised.data["payload"], data["payload"])
        if not wrong:
            continue
        violations.append(Violation(
            "events-read-as-written",
            f"{data['group']} read {data['type']} v{data['version']} ({data['event_id']}) as v{data['reads']} with "
            f"{'an' if data['reader'][0] in 'aeiou' else 'a'} {data['reader']} reader and applied "
            f"{', '.join(wrong)}; {order}",
            at=record.at,
            evidence={"event_id": data["event_id"], "group": data["group"], "version": data["version"],
                      "reads": data["reads"], "reader": data["reader"], "wrong": wrong},
            records=(raised.seq, record.seq),
        ))
    return violations


def _streams_replayed_as_written(result: RunResult, order: str) -> list[Violation]:
    """Each stream event as Point's reader at the end of the run replays it, against the entry
    Point meant (its ``ledger`` row)."""
    violations = []
    for service, user_id, entry_id, version, outcome in _replayed_at_the_end(result):
        if isinstance(outcome, UnreadableEvent):
            continue
        read, meant = outcome
        wrong = _differences({f: getattr(meant, f) for f in meant.__dataclass_fields__},
                             {f: getattr(read, f) for f in read.__dataclass_fields__})
        if wrong:
            rollout = result.scenario.schema_rollout()
            assert rollout is not None
            violations.append(Violation(
                "events-read-as-written",
                f"{service} replays {entry_id} of user {user_id}'s stream ({LEDGER_ENTRY} v{version}) with a "
                f"v{rollout.reader_version(math.inf)} {rollout.reader} reader as {', '.join(wrong)}; {order}",
                evidence={"service": service, "user_id": user_id, "entry_id": entry_id, "version": version,
                          "wrong": wrong},
                records=point_events(result, user_id),
            ))
    return violations
