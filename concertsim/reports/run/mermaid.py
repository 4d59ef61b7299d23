"""Mermaid sequence diagrams of one saga (they render on code hosts that show Markdown).

The diagram draws the saga's steps (``saga_steps``): calls are solid arrows (``->>``), replies
dashed (``-->>``), event publishes and deliveries open arrows (``-)``), lost messages crosses
(``-x``), and faults, crashes, timeouts and skipped duplicates notes. Every text that comes from the
trace is escaped with mermaid's entity codes, so an endpoint, event type or reason can never end a
statement early or inject markup.
"""

from __future__ import annotations

import re

from concertsim.reports.run.saga import Saga
from concertsim.reports.run.saga_steps import (
    PARTICIPANTS,
    Step,
    fit_steps,
    lane_order,
    relevant_records,
    saga_steps,
)
from concertsim.scenarios.schema import Scenario

__all__ = ["sequence_diagram", "relevant_records", "mermaid_text", "PARTICIPANTS"]

# Mermaid reads ';' and a newline as the end of a statement and '#' as the start of an entity code;
# angle brackets may be taken for HTML, and a colon in a label confuses some renderers. Each is
# replaced by its numeric entity code, which mermaid turns back into the character when drawing.
_ENTITIES = {";": "#59;", "#": "#35;", ":": "#58;", "<": "#60;", ">": "#62;", "&": "#38;"}
_UNSAFE = re.compile("[" + re.escape("".join(_ENTITIES)) + "]")
_MAX_TEXT = 80
_ROUTINE_LABEL = "routine steps (token checks, seat checks, commits) omitted"


def mermaid_text(value: object) -> str:
    """``value`` as one line of mermaid message or note text: characters mermaid would read as
    syntax become entity codes, whitespace runs (newlines included) become one space."""
    text = " ".join(str(value).split()).replace("->", "→").replace("<-", "←")
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 3] + "..."
    return _UNSAFE.sub(lambda m: _ENTITIES[m.group(0)], text) or "-"


def _arrow(step: Step) -> str:
    if step.kind == "lost":
        return "--x" if step.dashed else "-x"
    if step.kind == "event":
        return "-)"
    return "-->>" if step.dashed else "->>"


def _id(lane: str) -> str:
    """A lifeline's mermaid id: a replica's ``#`` would start an entity code, so ``concert#2`` is
    ``concert_2`` (declared with its name as the alias)."""
    return lane.replace("#", "_")


def _line(step: Step) -> str:
    if step.is_message:
        return f"{_id(step.source)}{_arrow(step)}{_id(step.target)}: {mermaid_text(step.text)}"
    first, last = _id(step.parties[0]), _id(step.parties[-1])
    where = first if len(step.parties) == 1 else f"{first},{last}"
    return f"Note over {where}: {mermaid_text(step.text)}"


def sequence_diagram(saga: Saga, *, max_messages: int = 60, scenario: Scenario | None = None) -> str:
    """A mermaid ``sequenceDiagram`` of ``saga`` (``scenario``: the run's, which lets a fault's
    note say when and what it does).

    Calls are ``A->>B: endpoint``, replies ``B-->>A: outcome``, events ``reservation-)broker:
    SeatReservedEvent`` and ``broker-)concert: ...``; lost requests, replies, publishes and
    deliveries are crosses; faults, crashes, timeouts and skipped duplicates are notes. With more
    than ``max_messages`` steps, routine ones (token and seat checks, commits) are left out first,
    then the steps before the last (the last always stays); a note says how many of each were left out.
    """
    steps, dropped, cut = fit_steps(saga_steps(saga, scenario), max(1, max_messages))
    used = {party for step in steps for party in step.parties}
    participants = sorted(used, key=lane_order) or ["client"]
    ids = [_id(p) for p in participants]
    span = ids[0] if len(ids) == 1 else f"{ids[0]},{ids[-1]}"
    out = ["sequenceDiagram"]
    out += [f"    participant {_id(p)}" + (f" as {mermaid_text(p)}" if "#" in p else "") for p in participants]
    if dropped:
        out.append(f"    Note over {span}: {dropped} {_ROUTINE_LABEL}")
    out += [f"    {_line(step)}" for step in steps]
    if cut:
        out.insert(-1, f"    Note over {span}: ... {cut} steps before the last omitted")
    if not steps:
        out.append(f"    Note over {span}: no messages recorded for {mermaid_text(saga.reservation_id)}")
    return "\n".join(out) + "\n"
