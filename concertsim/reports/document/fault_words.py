"""A fault of a scenario's schedule in plain words: when, what it strikes, and what that does.

"From 0 s to 15 s, every reply of point.use arrives 30 s late: longer than the 0.5 s call
timeout, so the caller gives up first." A report says its fault schedule this way on its first
screen; the fault table keeps a shorter form per row (:func:`fault_effect`).
"""

from __future__ import annotations

from collections.abc import Sequence

from concertsim.reports.document.blocks import Block, Paragraph, Table
from concertsim.reports.document.formatting import value_words
from concertsim.scenarios.schema import MESSAGE_FAULTS, FaultSpec, MessageFilter, Scenario

__all__ = ["fault_sentence", "fault_effect", "fault_window_words", "fault_table", "fault_blocks"]

_CHANNEL = {
    "request": ("request", "requests"),
    "reply": ("reply", "replies"),
    "publish": ("publish to the broker", "publishes to the broker"),
    "ack": ("broker acknowledgement of a publish", "broker acknowledgements of publishes"),
    "delivery": ("delivery to a consumer", "deliveries to consumers"),
    "offset_commit": ("consumer offset commit", "consumer offset commits"),
}


def _service(name: str) -> str:
    return name.replace("_", " ")


def fault_window_words(fault: FaultSpec, scenario: Scenario) -> str:
    """When the fault is active: "from 10 s to 30 s", "at 5 s, for the restart time (5 s)", "from
    12 s until the heal at 300 s"."""
    start = f"{fault.at:g} s"
    if fault.duration:
        return f"from {start} to {fault.at + fault.duration:g} s"
    if fault.kind == "crash":
        return f"at {start}, for its restart time"
    return f"from {start} until the heal at {scenario.workload.duration:g} s"


def _messages(channel: str, match: MessageFilter | None) -> str:
    """Which messages of ``channel`` a filter strikes: "every reply of point.use from point"."""
    one, many = _CHANNEL.get(channel, (channel + " message", channel + " messages"))
    if match is None:
        return f"every {one}"
    if match.count is not None:
        counted = f"{match.count} {many}" if match.count > 1 else one
        picked = f"the first {counted}"
        if match.skip:
            picked = f"{'the next ' + counted if match.count > 1 else 'one ' + one} after the first {match.skip}"
    else:
        picked = f"every {one}" if not match.skip else f"every {one} after the first {match.skip}"
    parts = [picked]
    if match.message_type:
        parts.append(f"of {match.message_type}")
    if match.source:
        parts.append(f"from {_service(match.source)}")
    if match.destination:
        parts.append(f"to {_service(match.destination)}")
    if match.group:
        parts.append(f"for the {_service(match.group)} consumers")
    if match.key:
        parts.append(f"with key {match.key}")
    text = " ".join(parts)
    if match.rate < 1:
        text += f" (each with probability {match.rate:g})"
    return text


def fault_effect(fault: FaultSpec, scenario: Scenario | None = None) -> str:
    """What the fault does, without its timing: "the broker is down: ...", "every reply of
    point.use arrives 30 s late"."""
    target, params = fault.target, fault.params
    if fault.kind == "crash":
        if target.startswith("relay:"):
            return f"{_service(target.removeprefix('relay:'))}'s outbox relay stops; new events wait in the outbox"
        if target.startswith("consumer:"):
            return f"{_service(target.removeprefix('consumer:'))}'s consumers stop; events wait in the broker"
        party = f"the {target}" if target in ("broker", "gateway") else _service(target)
        return f"{party} is down: work in flight is lost, committed data is kept"
    if fault.kind == "partition":
        if "->" in target:
            source, destination = target.split("->")
            return f"nothing from {_service(source)} reaches {_service(destination)}"
        a, b = target.split("|")
        return f"{_service(a)} and {_service(b)} cannot reach each other"
    if fault.kind in MESSAGE_FAULTS:
        messages = _messages(target, fault.match)
        if fault.kind == "drop":
            return f"{messages} is lost"
        if fault.kind == "duplicate":
            gap = f", {params['gap']:g} s apart" if "gap" in params else ""
            return f"{messages} arrives twice{gap}"
        if fault.kind == "delay":
            seconds = params.get("seconds")
            text = f"{messages} arrives {seconds:g} s late" if seconds is not None else f"{messages} arrives late"
            timeout = scenario.network.call_timeout if scenario is not None else None
            if seconds is not None and timeout is not None and target in ("request", "reply") and seconds > timeout:
                text += f": longer than the {timeout:g} s call timeout, so the caller gives up first"
            return text
        window = f" up to {params['window']:g} s" if "window" in params else ""
        return f"{messages} is held back{window}, so later ones overtake it"
    if fault.kind == "slow":
        factor = params.get("factor")
        return f"{_service(target)} works {factor:g} times slower" if factor else f"{_service(target)} works slower"
    if fault.kind == "commit_failure":
        rate = params.get("rate")
        share = f"{rate:.0%} of " if rate is not None and rate < 1 else ""
        return f"{share}{_service(target)}'s database commits fail"
    if fault.kind == "clock_skew":
        seconds = params.get("seconds")
        if seconds is None:
            return f"{_service(target)}'s clock is off"
        return f"{_service(target)}'s clock is {abs(seconds):g} s {'ahead' if seconds > 0 else 'behind'}"
    if fault.kind == "pause":
        return f"{_service(target)} is frozen (a GC pause) and then carries on where it was"
    return f"{fault.kind} on {target}"


def fault_sentence(fault: FaultSpec, scenario: Scenario) -> str:
    """The whole fault in one sentence, capitalised, with its window."""
    text = f"{fault_window_words(fault, scenario)}, {fault_effect(fault, scenario)}"
    return text[0].upper() + text[1:] + "."


def fault_table(faults: Sequence[tuple[int, FaultSpec]], scenario: Scenario | None = None) -> Table:
    """The faults (numbered as in the schedule), one a row, each with what it does in words."""
    rows = []
    for index, fault in faults:
        if fault.duration:
            duration = f"{fault.duration:g} s"
        else:
            duration = "until restarted" if fault.kind == "crash" else "until heal"
        match = fault.match.model_dump(exclude_defaults=True) if fault.match else {}
        if fault.kind in MESSAGE_FAULTS:
            struck = ", ".join(f"{k}={value_words(v)}" for k, v in match.items()) or "every message"
        else:
            struck = "-"
        params = ", ".join(f"{k}={v:g}" for k, v in fault.params.items()) or "-"
        rows.append([str(index), f"{fault.at:g} s", fault.kind, fault.target, duration, struck, params,
                     fault_effect(fault, scenario)])
    return Table(["#", "at", "kind", "target", "lasts", "messages struck", "params", "in words"], rows)


def fault_blocks(scenario: Scenario, none: str) -> list[Block]:
    """The scenario's fault schedule as a table, or the paragraph ``none`` when it has no fault."""
    if not scenario.faults:
        return [Paragraph(none)]
    return [fault_table(list(enumerate(scenario.faults)), scenario)]
