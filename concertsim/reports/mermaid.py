"""Mermaid sequence diagrams of one saga (they render on code hosts that show Markdown)."""

from __future__ import annotations

import re

from concertsim.reports.figures import LIFELINES
from concertsim.reports.saga import Saga

__all__ = ["sequence_diagram"]

_UNSAFE = re.compile(r"[;:#<>{}\[\]\"`|]")
_NOISE = ("queue.check",)


def _text(value: object) -> str:
    """Message text mermaid will not misread."""
    return _UNSAFE.sub(" ", str(value)).strip() or "-"


def sequence_diagram(saga: Saga, *, max_messages: int = 60) -> str:
    """A ``sequenceDiagram`` of ``saga``: calls (solid), replies (dashed), events (open arrows),
    lost messages (crosses) and faults (notes). Beyond ``max_messages`` lines, the gateway's token
    checks are left out first, then the rest is cut with a note saying how much."""
    serves = {r.data["call"]: r for r in saga.records if r.kind == "call.serve"}
    sends = {r.data["call"]: r for r in saga.records if r.kind == "call.send"}
    appends: dict[str, str] = {}
    lines: list[tuple[bool, str]] = []  # (is noise, mermaid line)
    for r in saga.records:
        d = r.data
        if r.kind == "call.send":
            noise = d["endpoint"] in _NOISE
            lines.append((noise, f"{r.party}->>{d['to']}: {_text(d['endpoint'])}"))
        elif r.kind == "call.return" and d["call"] in sends:
            noise = d["endpoint"] in _NOISE
            callee = sends[d["call"]].data["to"]
            if d["outcome"] == "timeout":
                lines.append((noise, f"Note over {r.party}: timed out waiting for {callee}"))
            else:
                lines.append((noise, f"{callee}-->>{r.party}: {_text(d['outcome'])}"))
        elif r.kind == "call.reply_lost" and d["call"] in serves and d["call"] in sends:
            lines.append((False, f"{serves[d['call']].party}--x{sends[d['call']].party}: reply lost"))
        elif r.kind == "call.request_lost" and d["call"] in sends:
            lines.append((False, f"{r.party}-x{sends[d['call']].data['to']}: request lost"))
        elif r.kind == "broker.append" and d["event_id"] not in appends:
            appends[d["event_id"]] = r.party
            lines.append((False, f"{r.party}-)broker: {_text(d['type'])} {_text(d['event_id'])}"))
        elif r.kind == "broker.append":
            lines.append((False, f"{r.party}-)broker: {_text(d['type'])} again (republished)"))
        elif r.kind == "broker.deliver":
            lines.append((False, f"broker-){d['group']}: {_text(d['type'])}"))
        elif r.kind == "consumer.duplicate_skipped":
            lines.append((False, f"Note over {d['group']}: duplicate {_text(d['event_id'])} skipped"))
        elif r.kind == "broker.dead_letter":
            lines.append((False, f"Note over broker: parked for {r.party} ({_text(d['reason'])})"))
        elif r.kind == "tx.commit" and d.get("events"):
            lines.append((True, f"Note over {r.party}: commit {_text(d['label'])}"))
        elif r.kind in ("fault.start", "host.crash", "daemon.crash", "fault.strike"):
            party = r.party if r.party in LIFELINES else d.get("target", d.get("destination", "broker"))
            party = str(party).split(":")[-1].split("|")[0].split("->")[0]
            what = d.get("kind", r.kind.replace(".", " "))
            where = d.get("target", d.get("channel", ""))
            lines.append((False, f"Note over {party if party in LIFELINES else 'broker'}: FAULT {_text(what)} {_text(where)}"))
    if len(lines) > max_messages:
        lines = [line for line in lines if not line[0]]
    omitted = max(0, len(lines) - max_messages)
    kept = [text for _, text in lines[:max_messages]]
    used = [p for p in LIFELINES if any(re.search(rf"(^|[\s>)x]){p}([-:\s]|$)", text) for text in kept)]
    out = ["sequenceDiagram"]
    out += [f"    participant {p}" for p in used]
    out += [f"    {text}" for text in kept]
    if omitted:
        out.append(f"    Note over {used[0] if used else 'broker'}: ... {omitted} more steps omitted")
    return "\n".join(out)
