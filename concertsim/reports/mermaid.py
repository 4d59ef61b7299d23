"""Mermaid sequence diagrams of one saga (they render on code hosts that show Markdown).

The diagram is drawn from the saga's trace records alone: calls are solid arrows (``->>``), replies
dashed (``-->>``), event publishes and deliveries open arrows (``-)``), lost messages crosses
(``-x``), and faults, crashes, timeouts and skipped duplicates notes. Every text that comes from the
trace is escaped with mermaid's entity codes, so an endpoint, event type or reason can never end a
statement early or inject markup.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

from concertsim.reports.saga import Saga
from concertsim.sim.trace import TraceRecord

__all__ = ["sequence_diagram", "relevant_records", "mermaid_text", "PARTICIPANTS"]

PARTICIPANTS = ("client", "gateway", "queue", "reservation", "point", "concert", "broker", "data_platform")
"""Lifelines in drawing order; a diagram declares only those it uses."""

# Mermaid reads ';' and a newline as the end of a statement and '#' as the start of an entity code;
# angle brackets may be taken for HTML, and a colon in a label confuses some renderers. Each is
# replaced by its numeric entity code, which mermaid turns back into the character when drawing.
_ENTITIES = {";": "#59;", "#": "#35;", ":": "#58;", "<": "#60;", ">": "#62;", "&": "#38;"}
_UNSAFE = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_MAX_TEXT = 80

# Priority of a diagram line: when a saga has more lines than fit, the highest level goes first.
# ESSENTIAL: the saga's calls, replies, events, losses and faults; SERVICE: commits that raise
# events, restarts, lifted faults; ROUTINE: token and seat checks, commits that raise nothing.
ESSENTIAL, SERVICE, ROUTINE = 0, 1, 2
_ROUTINE_ENDPOINTS = frozenset({"queue.check", "queue.token_status", "concert.check_seat"})
_ROUTINE_LABEL = "routine steps (token checks, seat checks, commits) omitted"


def mermaid_text(value: object) -> str:
    """``value`` as one line of mermaid message or note text: characters mermaid would read as
    syntax become entity codes, whitespace runs (newlines included) become one space."""
    text = " ".join(str(value).split()).replace("->", "→").replace("<-", "←")
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 3] + "..."
    return _UNSAFE.sub(lambda m: _ENTITIES[m.group(0)], text) or "-"


def _lifeline(party: object) -> str | None:
    """The participant a trace party or fault target belongs to (``relay:point`` is Point's)."""
    name = str(party).split(":")[-1].strip()
    return name if name in PARTICIPANTS else None


@dataclass(frozen=True)
class _Line:
    level: int
    text: str
    parties: tuple[str, ...]
    repeat_key: Hashable = None
    """Consecutive notes with the same key are drawn as one, with a count."""
    repeats: int = 1


class _Drawing:
    """The lines of a diagram under construction, with the participants each one uses."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []

    def arrow(self, level: int, source: str | None, arrow: str, target: str | None, text: object) -> None:
        if source is None or target is None or source == target:
            return
        self.lines.append(_Line(level, f"{source}{arrow}{target}: {mermaid_text(text)}", (source, target)))

    def note(
        self, level: int, parties: Iterable[str | None], text: object, *, repeat_key: Hashable = None
    ) -> None:
        over = {p for p in parties if p is not None}
        previous = self.lines[-1] if self.lines else None
        repeats = 1
        if repeat_key is not None and previous is not None and previous.repeat_key == repeat_key:
            self.lines.pop()
            over |= set(previous.parties)
            repeats = previous.repeats + 1
            text = f"{text} ×{repeats}"
        span = sorted(over or {"broker"}, key=PARTICIPANTS.index)
        where = span[0] if len(span) == 1 else f"{span[0]},{span[-1]}"
        line = f"Note over {where}: {mermaid_text(text)}"
        self.lines.append(_Line(level, line, tuple(span), repeat_key, repeats))


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


def _draw(saga: Saga) -> list[_Line]:
    """Every line the saga could draw, in trace order, each with its priority."""
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
    drawing = _Drawing()

    def level_of(endpoint: str) -> int:
        return ROUTINE if endpoint in _ROUTINE_ENDPOINTS else ESSENTIAL

    def type_of(event_id: str) -> str:
        return event_types.get(event_id, event_id)

    def caller_and_callee(call: str) -> tuple[str | None, str | None]:
        send = sends.get(call)
        return (_lifeline(send.party), _lifeline(send.data["to"])) if send else (None, None)

    def served_outcome(call: str) -> str:
        serve = serves.get(call)
        return serve.data["outcome"] if serve else "reply"

    for r in records:
        d, kind, party = r.data, r.kind, _lifeline(r.party)
        if kind == "call.send":
            callee = _lifeline(d["to"])
            if d["call"] in requests_lost:
                drawing.arrow(ESSENTIAL, party, "-x", callee, f"{d['endpoint']} (request lost)")
            else:
                drawing.arrow(level_of(d["endpoint"]), party, "->>", callee, d["endpoint"])
        elif kind == "call.return":
            _, callee = caller_and_callee(d["call"])
            if d["outcome"] == "timeout":
                drawing.note(ESSENTIAL, [party], f"{d['endpoint']} timed out")
            else:
                level = level_of(d["endpoint"]) if d["outcome"] == "ok" else ESSENTIAL
                drawing.arrow(level, callee, "-->>", party, d["outcome"])
        elif kind == "call.reply_lost":
            caller, _ = caller_and_callee(d["call"])
            drawing.arrow(ESSENTIAL, party, "--x", caller, f"{served_outcome(d['call'])} (reply lost)")
        elif kind == "call.late_reply":
            _, callee = caller_and_callee(d["call"])
            late = f"{served_outcome(d['call'])} (too late, ignored)"
            drawing.arrow(ESSENTIAL, callee, "-->>", party, late)
        elif kind == "call.refused":
            drawing.note(ESSENTIAL, [party], "down, refused a call")
        elif kind == "tx.commit":
            drawing.note(SERVICE if d.get("events") else ROUTINE, [party], f"commit {d['label']}")
        elif kind == "tx.failed":
            drawing.note(ESSENTIAL, [party], f"commit of {d['label']} failed")
        elif kind == "broker.append":
            again = d["event_id"] in appended
            appended.add(d["event_id"])
            text = d["type"] + (" again (republished)" if again else "")
            drawing.arrow(ESSENTIAL, party, "-)", "broker", text)
        elif kind == "publish.dropped":
            drawing.arrow(ESSENTIAL, party, "-x", "broker", f"{type_of(d['event_id'])} (publish lost)")
        elif kind == "broker.publish_unacked":
            drawing.note(ESSENTIAL, [party], f"publish of {type_of(d['event_id'])} not acknowledged")
        elif kind == "broker.deliver":
            again = (d["group"], d["event_id"]) in delivered
            delivered.add((d["group"], d["event_id"]))
            group = _lifeline(d["group"])
            drawing.arrow(ESSENTIAL, "broker", "-)", group, d["type"] + (" (redelivered)" if again else ""))
        elif kind == "broker.delivery_lost":
            group = _lifeline(d["group"])
            drawing.arrow(ESSENTIAL, "broker", "-x", group, f"{type_of(d['event_id'])} (delivery lost)")
        elif kind == "consumer.duplicate_skipped":
            drawing.note(ESSENTIAL, [_lifeline(d["group"])], f"duplicate {d['type']} skipped")
        elif kind == "consumer.failed":
            text = f"handling failed ({d['reason']}), attempt {d['attempt']}"
            drawing.note(ESSENTIAL, [_lifeline(d["group"])], text)
        elif kind == "consumer.dropped":
            text = f"gave up on {type_of(d['event_id'])} ({d['reason']})"
            drawing.note(ESSENTIAL, [_lifeline(d["group"])], text)
        elif kind == "broker.dead_letter":
            text = f"{d['type']} parked in dead-letter topic for {r.party} ({d['reason']})"
            drawing.note(ESSENTIAL, ["broker"], text)
        elif kind == "dlq.redriven":
            text = f"redriven from dead-letter topic ({d['outcome']})"
            drawing.note(ESSENTIAL, ["broker", _lifeline(r.party)], text)
        elif kind == "dlq.redrive_failed":
            drawing.note(ESSENTIAL, ["broker", _lifeline(r.party)], f"redrive failed ({d['reason']})")
        elif kind in ("client.fail", "client.unknown"):
            what = "failed" if kind == "client.fail" else "outcome unknown"
            error = f" ({d['error']})" if d.get("error") else ""
            drawing.note(ESSENTIAL, ["client"], f"{d['action']} {what}{error}")
        elif kind == "fault.start":
            fault_targets[d["index"]] = (d["kind"], d["target"])
            target = _target_words(d["target"])
            text = f"FAULT {target} crashes" if d["kind"] == "crash" else f"FAULT {d['kind']} {target} begins"
            drawing.note(ESSENTIAL, _fault_parties(d["target"]), text)
        elif kind == "fault.end":
            fault_kind, target = fault_targets.get(d["index"], ("", ""))
            if fault_kind != "crash":  # a crash ends with the restart, drawn below
                what = f"{fault_kind} {_target_words(target)}" if target else f"fault {d['index']}"
                drawing.note(SERVICE, _fault_parties(target) if target else [], f"{what} lifted")
        elif kind == "fault.strike":
            over = [_lifeline(d.get("source")), _lifeline(d.get("destination")) or _lifeline(d.get("group"))]
            drawing.note(
                SERVICE if d["kind"] == "drop" else ESSENTIAL,  # a drop also shows as a cross
                over,
                f"FAULT {d['kind']} struck {d['message_type']} ({d['channel']})",
                repeat_key=(d["index"], d["message_type"], d["channel"]),
            )
        elif kind in ("host.restart", "daemon.restart"):
            drawing.note(SERVICE, [party], f"{_target_words(r.party)} restarted")
        # host.crash and daemon.crash are drawn by their fault.start; the rest is not drawn.
    return drawing.lines


def _target_words(target: str) -> str:
    """A fault target in words: ``relay:point`` is "point's outbox relay", ``a|b`` "a and b (both
    ways)"."""
    if target.startswith("relay:"):
        return f"{target.removeprefix('relay:')}'s outbox relay"
    if target.startswith("consumer:"):
        return f"{target.removeprefix('consumer:')}'s consumers"
    if "|" in target:
        return " and ".join(target.split("|")) + " (both ways)"
    return target


def _fault_parties(target: str) -> list[str | None]:
    """The lifelines a fault note spans: both sides of a partition, the service that crashed or
    was slowed, or every lifeline for a fault on a message channel."""
    if "|" in target or "->" in target:
        return [_lifeline(side) for side in re.split(r"\||->", target)]
    party = _lifeline(target)
    return [party] if party else ["client", "broker"]


def _fit(lines: list[_Line], max_messages: int) -> tuple[list[_Line], int, int]:
    """At most ``max_messages`` lines: routine ones go first, then service-internal ones, then the
    tail. Returns the lines kept, how many were dropped as routine and how many cut at the end."""
    dropped = 0
    for level in (ROUTINE, SERVICE):
        if len(lines) <= max_messages:
            break
        kept = [line for line in lines if line.level < level]
        dropped += len(lines) - len(kept)
        lines = kept
    cut = max(0, len(lines) - max_messages)
    return lines[:max_messages], dropped, cut


def sequence_diagram(saga: Saga, *, max_messages: int = 60) -> str:
    """A mermaid ``sequenceDiagram`` of ``saga``.

    Calls are ``A->>B: endpoint``, replies ``B-->>A: outcome``, events ``reservation-)broker:
    SeatReservedEvent`` and ``broker-)concert: ...``; lost requests, replies, publishes and
    deliveries are crosses; faults, crashes, timeouts and skipped duplicates are notes. With more
    than ``max_messages`` steps, routine ones (token and seat checks, commits) are left out first,
    then the steps after the limit; a note in the diagram says how many of each were left out.
    """
    lines, dropped, cut = _fit(_draw(saga), max(1, max_messages))
    used = {party for line in lines for party in line.parties}
    participants = [p for p in PARTICIPANTS if p in used] or ["client"]
    span = participants[0] if len(participants) == 1 else f"{participants[0]},{participants[-1]}"
    out = ["sequenceDiagram"]
    out += [f"    participant {p}" for p in participants]
    if dropped:
        out.append(f"    Note over {span}: {dropped} {_ROUTINE_LABEL}")
    out += [f"    {line.text}" for line in lines]
    if cut:
        out.append(f"    Note over {span}: ... {cut} later steps omitted")
    if not lines:
        out.append(f"    Note over {span}: no messages recorded for {mermaid_text(saga.reservation_id)}")
    return "\n".join(out) + "\n"
