"""One saga as the steps a sequence diagram draws, from its trace records alone.

A step is a message between two lifelines (a call, a reply, an event published or delivered; lost
ones end in a cross) or a note over one or more lifelines (a fault, a timeout, a failure, a skipped
duplicate, a commit). Both drawings of a saga are made from these steps, so they show the same
thing: the mermaid source (``mermaid.py``) and the message-flow figure (``flow_figure.py``).

Each step has a priority: when a saga has more steps than fit, routine ones (token and seat checks,
commits that raise nothing) go first, then service-internal ones (commits that raise events,
restarts, lifted faults); the calls, replies, events, losses and faults stay.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from concertsim.reports.document.fault_words import fault_effect, fault_window_words
from concertsim.reports.run.saga import Saga
from concertsim.scenarios.schema import FaultSpec, Scenario
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.infrastructure.trace import TraceRecord

__all__ = [
    "PARTICIPANTS", "Step", "StepKind", "saga_steps", "fit_steps", "relevant_records", "target_words",
    "ESSENTIAL", "SERVICE", "ROUTINE", "lane_order", "saga_span",
]

PARTICIPANTS = ("client", "gateway", "queue", "reservation", "point", "concert", "broker", "data_platform")
"""Lifelines in drawing order; a diagram shows only those it uses. A replicated service's replicas
(``concert#2``) are lifelines of their own, after their service's place, in replica order."""


def lane_order(lane: str) -> tuple[int, int, str]:
    """The sort key that puts lifelines in drawing order, replicas of a service side by side."""
    service, _, replica = lane.partition("#")
    return (PARTICIPANTS.index(service), int(replica) if replica.isdigit() else 0, lane)

ESSENTIAL, SERVICE, ROUTINE = 0, 1, 2
_ROUTINE_ENDPOINTS = frozenset({"queue.check", "queue.token_status", "concert.check_seat"})

StepKind = Literal["call", "reply", "late_reply", "event", "lost", "note", "fault", "timeout", "failure", "skipped"]
"""What a step is: ``call``, ``reply``, ``late_reply`` (a reply that came after the caller gave up),
``event`` (published to or delivered from the broker) and ``lost`` (a request, reply, publish or
delivery that never arrived) are messages from ``source`` to ``target``; the others are notes over
``parties``: ``fault`` (a fault begins, strikes, ends), ``timeout``, ``failure`` (a failed commit,
handling or client operation), ``skipped`` (a duplicate skipped) and ``note`` (anything else)."""

_MESSAGES = frozenset({"call", "reply", "late_reply", "event", "lost"})
_HANDLINGS = frozenset({"consumer.handled", "consumer.duplicate_skipped", "consumer.failed", "consumer.dropped",
                        "consumer.unreadable"})


@dataclass(frozen=True)
class Step:
    """One thing a sequence diagram draws. ``text`` is plain text (each drawing escapes it as it
    must); ``at`` is the simulated time of the record it comes from."""

    level: int
    kind: StepKind
    parties: tuple[str, ...]
    """(source, target) for a message; the lifelines a note spans, in drawing order, otherwise."""
    text: str
    at: float
    dashed: bool = False
    """A reply (dashed line), as opposed to a request or an event."""
    repeat_key: Hashable = None
    """Consecutive notes with the same key are drawn as one, with a count."""
    repeats: int = 1
    call: str | None = None
    """The call a call, reply or timeout step belongs to (so a drawing can show the wait)."""

    @property
    def is_message(self) -> bool:
        return self.kind in _MESSAGES

    @property
    def source(self) -> str:
        return self.parties[0]

    @property
    def target(self) -> str:
        return self.parties[-1]


def _lifeline(party: object) -> str | None:
    """The lifeline a trace party or fault target belongs to (``relay:point`` is Point's, and
    ``concert#2`` its own: a replica is drawn apart from its siblings)."""
    name = str(party).split(":")[-1].strip()
    if service_of(name) not in PARTICIPANTS:
        return None
    return name if "#" in name else service_of(name)


class _Steps:
    """The steps of a diagram under construction."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def message(self, level: int, kind: StepKind, source: str | None, target: str | None, text: object,
                at: float, *, dashed: bool = False, call: str | None = None) -> None:
        if source is None or target is None or source == target:
            return
        self.steps.append(Step(level, kind, (source, target), str(text), at, dashed, call=call))

    def note(self, level: int, kind: StepKind, parties: Iterable[str | None], text: object, at: float, *,
             repeat_key: Hashable = None, call: str | None = None) -> None:
        over = {p for p in parties if p is not None}
        previous = self.steps[-1] if self.steps else None
        repeats = 1
        if repeat_key is not None and previous is not None and previous.repeat_key == repeat_key:
            self.steps.pop()
            over |= set(previous.parties)
            repeats = previous.repeats + 1
            text = f"{text} ×{repeats}"
            at = previous.at
        span = tuple(sorted(over or {"broker"}, key=lane_order))
        self.steps.append(Step(level, kind, span, str(text), at, repeat_key=repeat_key, repeats=repeats, call=call))


def relevant_records(saga: Saga) -> list[TraceRecord]:
    """The saga's records without fault strikes on other sagas' messages.

    A strike (one message hit by a drop, duplicate, delay or reorder fault) belongs to this saga
    when it hit one of the saga's calls (same time, parties and endpoint), replies, or events (same
    event type and partition key).
    """
    calls = {(r.at, r.party, r.data["to"], r.data["endpoint"]) for r in saga.records if r.kind == "call.send"}
    replies = {(r.at, r.party, r.data["endpoint"]) for r in saga.records if r.kind == "call.serve"}
    events = {
        (r.data["type"], r.data.get("key"))
        for r in saga.records if r.kind in ("event.raised", "broker.append")
    }

    def concerns_saga(strike: TraceRecord) -> bool:
        d = strike.data
        if str(d.get("key", "")).endswith(saga.reservation_id):
            return True
        if d["channel"] == "request":
            return (strike.at, d["source"], d["destination"], d["message_type"]) in calls
        if d["channel"] == "reply":
            return (strike.at, d["source"], d["message_type"]) in replies
        return (d["message_type"], d.get("key")) in events

    return [r for r in saga.records if r.kind != "fault.strike" or concerns_saga(r)]


_FAULT_RECORDS = frozenset({"fault.start", "fault.end", "host.crash", "host.restart", "daemon.crash", "daemon.restart"})


def saga_span(saga: Saga) -> tuple[float, float]:
    """When the saga began and ended: its first and last record of its own (a fault that began
    before it, or was lifted after it, is not part of it). The one span both the saga's text and
    its drawing give; (0, 0) for a saga with no record."""
    own = [r.at for r in relevant_records(saga) if r.kind not in _FAULT_RECORDS]
    return (min(own), max(own)) if own else (0.0, 0.0)


def target_words(target: str) -> str:
    """A fault target in words: ``relay:point`` is "point's outbox relay", ``a|b`` "a and b (both
    ways)"."""
    if target.startswith("relay:"):
        return f"{target.removeprefix('relay:')}'s outbox relay"
    if target.startswith("consumer:"):
        return f"{target.removeprefix('consumer:')}'s consumers"
    if "|" in target:
        return " and ".join(target.split("|")) + " (both ways)"
    return target


def _fault_parties(target: str, fault: FaultSpec | None = None,
                   calls: dict[str, set[tuple[str | None, str | None]]] | None = None) -> list[str | None]:
    """The lifelines a fault struck: both sides of a partition, the service that crashed or was
    slowed; for a fault on a message channel, the sender and receiver its match names, else both
    ends of this saga's calls of the endpoint it matches, else every lifeline."""
    if "|" in target or "->" in target:
        return [_lifeline(side) for side in re.split(r"\||->", target)]
    party = _lifeline(target)
    if party:
        return [party]
    match = fault.match if fault is not None else None
    if match is not None:
        named = [_lifeline(side) for side in (match.source, match.destination) if side]
        if any(named):
            return named
        ends = (calls or {}).get(match.message_type or "", set())
        if ends:
            return [lane for pair in sorted(ends, key=str) for lane in pair]
    return ["client", "broker"]


def _strike_words(data: dict[str, object], fault: FaultSpec | None) -> str:
    """What a fault did to one message: "lost", "duplicated", "delayed 30 s", "held back"."""
    if data["kind"] == "delay" and fault is not None and "seconds" in fault.params:
        return f"delayed {fault.params['seconds']:g} s"
    return {"drop": "lost", "duplicate": "duplicated", "delay": "delayed", "reorder": "held back"}.get(
        str(data["kind"]), str(data["kind"]))


def saga_steps(saga: Saga, scenario: Scenario | None = None) -> list[Step]:
    """Every step the saga could draw, in trace order, each with its priority. ``scenario`` (the
    run's) lets a fault's step say when and what it does, e.g. by how much a delay delays."""
    faults: Sequence[FaultSpec] = scenario.faults if scenario is not None else ()
    records = relevant_records(saga)
    sends = {r.data["call"]: r for r in records if r.kind == "call.send"}
    serves = {r.data["call"]: r for r in records if r.kind == "call.serve"}
    requests_lost = {r.data["call"] for r in records if r.kind == "call.request_lost"}
    event_types = {
        r.data["event_id"]: r.data["type"] for r in records if {"type", "event_id"} <= r.data.keys()
    }
    fault_targets: dict[int, tuple[str, str]] = {}
    appended: set[str] = set()
    delivered: set[tuple[str, str]] = set()
    steps = _Steps()

    def level_of(endpoint: str) -> int:
        return ROUTINE if endpoint in _ROUTINE_ENDPOINTS else ESSENTIAL

    def type_of(event_id: str) -> str:
        return event_types.get(event_id, event_id)

    def caller_and_callee(call: str) -> tuple[str | None, str | None]:
        send = sends.get(call)
        if send is None:
            return (None, None)
        serve = serves.get(call)  # the replica that served it, when the callee is replicated
        return (_lifeline(send.party), _lifeline(serve.party if serve is not None else send.data["to"]))

    handlers = {(r.data["group"], r.data["event_id"]): r.party for r in records
                if r.kind in _HANDLINGS and "group" in r.data}

    def consumer_of(group: str, event_id: str) -> str | None:
        return _lifeline(handlers.get((group, event_id), group))

    calls_of: dict[str, set[tuple[str | None, str | None]]] = {}
    for call in sends:
        calls_of.setdefault(sends[call].data["endpoint"], set()).add(caller_and_callee(call))

    def served_outcome(call: str) -> str:
        serve = serves.get(call)
        return serve.data["outcome"] if serve else "reply"

    def fault_of(index: object) -> FaultSpec | None:
        return faults[index] if isinstance(index, int) and 0 <= index < len(faults) else None

    for r in records:
        d, kind, party, at = r.data, r.kind, _lifeline(r.party), r.at
        if kind == "call.send":
            _, callee = caller_and_callee(d["call"])
            if d["call"] in requests_lost:
                steps.message(ESSENTIAL, "lost", party, callee, f"{d['endpoint']} (request lost)", at, call=d["call"])
            else:
                steps.message(level_of(d["endpoint"]), "call", party, callee, d["endpoint"], at, call=d["call"])
        elif kind == "call.return":
            _, callee = caller_and_callee(d["call"])
            if d["outcome"] == "timeout":
                steps.note(ESSENTIAL, "timeout", [party], f"{d['endpoint']} timed out", at, call=d["call"])
            else:
                level = level_of(d["endpoint"]) if d["outcome"] == "ok" else ESSENTIAL
                steps.message(level, "reply", callee, party, d["outcome"], at, dashed=True)
        elif kind == "call.reply_lost":
            caller, _ = caller_and_callee(d["call"])
            steps.message(ESSENTIAL, "lost", party, caller, f"{served_outcome(d['call'])} (reply lost)", at,
                          dashed=True)
        elif kind == "call.late_reply":
            _, callee = caller_and_callee(d["call"])
            late = f"{served_outcome(d['call'])} (too late, ignored)"
            steps.message(ESSENTIAL, "late_reply", callee, party, late, at, dashed=True)
        elif kind == "call.refused":
            steps.note(ESSENTIAL, "failure", [party], "down, refused a call", at)
        elif kind == "tx.commit":
            steps.note(SERVICE if d.get("events") else ROUTINE, "note", [party], f"commit {d['label']}", at)
        elif kind == "tx.failed":
            steps.note(ESSENTIAL, "failure", [party], f"commit of {d['label']} failed", at)
        elif kind == "broker.append":
            again = d["event_id"] in appended
            appended.add(d["event_id"])
            steps.message(ESSENTIAL, "event", party, "broker", d["type"] + (" again (republished)" if again else ""), at)
        elif kind == "publish.dropped":
            steps.message(ESSENTIAL, "lost", party, "broker", f"{type_of(d['event_id'])} (publish lost)", at)
        elif kind == "broker.publish_unacked":
            steps.note(ESSENTIAL, "failure", [party], f"publish of {type_of(d['event_id'])} not acknowledged", at)
        elif kind == "broker.deliver":
            again = (d["group"], d["event_id"]) in delivered
            delivered.add((d["group"], d["event_id"]))
            steps.message(ESSENTIAL, "event", "broker", consumer_of(d["group"], d["event_id"]),
                          d["type"] + (" (redelivered)" if again else ""), at)
        elif kind == "broker.delivery_lost":
            steps.message(ESSENTIAL, "lost", "broker", consumer_of(d["group"], d["event_id"]),
                          f"{type_of(d['event_id'])} (delivery lost)", at)
        elif kind == "consumer.duplicate_skipped":
            steps.note(ESSENTIAL, "skipped", [_lifeline(d["group"])], f"duplicate {d['type']} skipped", at)
        elif kind == "consumer.failed":
            text = f"handling failed ({d['reason']}), attempt {d['attempt']}"
            steps.note(ESSENTIAL, "failure", [_lifeline(d["group"])], text, at)
        elif kind == "consumer.unreadable":
            text = f"could not read {d['type']} v{d['version']} (reads v{d['reads']})"
            steps.note(ESSENTIAL, "failure", [_lifeline(d["group"])], text, at)
        elif kind == "consumer.dropped":
            text = f"gave up on {type_of(d['event_id'])} ({d['reason']})"
            steps.note(ESSENTIAL, "failure", [_lifeline(d["group"])], text, at)
        elif kind == "broker.dead_letter":
            text = f"{d['type']} parked in dead-letter topic for {r.party} ({d['reason']})"
            steps.note(ESSENTIAL, "failure", ["broker"], text, at)
        elif kind == "dlq.redriven":
            steps.note(ESSENTIAL, "note", ["broker", _lifeline(r.party)],
                       f"redriven from dead-letter topic ({d['outcome']})", at)
        elif kind == "dlq.redrive_failed":
            steps.note(ESSENTIAL, "failure", ["broker", _lifeline(r.party)], f"redrive failed ({d['reason']})", at)
        elif kind == "client.ok":
            steps.note(SERVICE, "note", ["client"], f"{d['action']} ok", at)
        elif kind in ("client.fail", "client.unknown"):
            what = "failed" if kind == "client.fail" else "outcome unknown"
            error = f" ({d['error']})" if d.get("error") else ""
            steps.note(ESSENTIAL, "failure", ["client"], f"{d['action']} {what}{error}", at)
        elif kind == "fault.start":
            fault_targets[d["index"]] = (d["kind"], d["target"])
            target = target_words(d["target"])
            text = f"FAULT {target} crashes" if d["kind"] == "crash" else f"FAULT {d['kind']} {target} begins"
            scheduled = fault_of(d["index"])
            if scheduled is not None and scenario is not None:
                text = f"FAULT {fault_window_words(scheduled, scenario)}: {fault_effect(scheduled, scenario)}"
            steps.note(ESSENTIAL, "fault", _fault_parties(d["target"], scheduled, calls_of), text, at)
        elif kind == "fault.end":
            fault_kind, target = fault_targets.get(d["index"], ("", ""))
            if fault_kind != "crash":  # a crash ends with the restart, drawn below
                what = f"{fault_kind} {target_words(target)}" if target else f"fault {d['index']}"
                parties = _fault_parties(target, fault_of(d["index"]), calls_of) if target else []
                steps.note(SERVICE, "fault", parties, f"{what} lifted", at)
        elif kind == "fault.strike":
            over = [_lifeline(d.get("source")), _lifeline(d.get("destination")) or _lifeline(d.get("group"))]
            words = _strike_words(d, fault_of(d.get("index")))
            steps.note(
                SERVICE if d["kind"] == "drop" else ESSENTIAL,  # a drop also shows as a cross
                "fault",
                over,
                f"FAULT {d['kind']} struck {d['message_type']} ({d['channel']}): {words}",
                at,
                repeat_key=(d["index"], d["message_type"], d["channel"]),
            )
        elif kind in ("host.restart", "daemon.restart"):
            steps.note(SERVICE, "note", [party], f"{target_words(r.party)} restarted", at)
        # host.crash and daemon.crash are drawn by their fault.start; the rest is not drawn.
    return steps.steps


def fit_steps(steps: list[Step], max_steps: int) -> tuple[list[Step], int, int]:
    """At most ``max_steps`` steps: routine ones go first, then service-internal ones, then those
    before the last; the saga's last step always stays, so a drawing reaches the saga's end.
    Returns the steps kept, how many were dropped as routine and how many cut before the last."""
    if not steps:
        return [], 0, 0
    last = steps[-1]
    dropped = 0
    for level in (ROUTINE, SERVICE):
        if len(steps) <= max_steps:
            break
        kept = [step for step in steps[:-1] if step.level < level] + [last]
        dropped += len(steps) - len(kept)
        steps = kept
    cut = max(0, len(steps) - max_steps)
    if cut:
        steps = steps[:max(max_steps - 1, 0)] + [last]
    return steps, dropped, cut
