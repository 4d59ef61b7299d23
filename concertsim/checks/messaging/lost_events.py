"""Events reach their subscribers (seed 6.2, 4.2.3).

``no-lost-events``: every event a service committed reaches every subscriber, or is parked in a
dead-letter topic with its reason. ``dead-letters-drain``: once every fault is healed, the events
parked during the faults are handled when re-driven, so nothing stays parked for good.
"""

from __future__ import annotations

from concertsim.checks.applicability import event_raised, events_parked
from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import seqs, trace_index
from concertsim.sim.run.result import RunResult


@invariant(
    "no-lost-events",
    "convergence",
    "Each committed event is processed by every subscribing group, or parked in its dead-letter "
    "topic with a reason.",
    applies=event_raised,
)
def no_lost_events(result: RunResult) -> list[Violation]:
    raised: list[tuple[int, float, str, str, str | None, str, bool]] = []
    processed: set[tuple[str, str]] = set()
    appended: set[str] = set()
    for record in result.trace.of_kind("event.raised", "consumer.handled", "consumer.duplicate_skipped",
                                       "broker.append"):
        kind = record.kind
        if kind == "event.raised":
            raised.append((record.seq, record.at, record.data["event_id"], record.data["type"], record.trace_id,
                           record.party, not record.data.get("in_process", False)))
        elif kind == "consumer.handled" or kind == "consumer.duplicate_skipped":
            processed.add((record.data["group"], record.data["event_id"]))
        elif kind == "broker.append":
            appended.add(record.data["event_id"])
    parked = {(letter.group, letter.event.event_id) for letter in result.dead_letters}
    violations = []
    for seq, at, event_id, event_type, trace_id, raised_by, published in raised:
        for group in result.subscribers(event_type, raised_by, published):
            if (group, event_id) in processed or (group, event_id) in parked:
                continue
            where = "never reached the broker" if event_id not in appended else "was never processed"
            violations.append(
                Violation(
                    "no-lost-events",
                    f"{event_type} {event_id} {where}, so {group} never handled it",
                    at=at,
                    evidence={"event_id": event_id, "type": event_type, "group": group,
                              "published": event_id in appended},
                    records=seqs((seq,), trace_index(result).fate(event_id, group)),
                )
            )
    return violations


@invariant(
    "dead-letters-drain",
    "convergence",
    "Once every fault is healed, each event parked in a dead-letter topic is handled when re-driven: "
    "none stays parked for good.",
    applies=events_parked,
)
def dead_letters_drain(result: RunResult) -> list[Violation]:
    """An event still parked after heal, redrive and settle fails in a healthy system: a message
    its consumer can never handle (a poison message), not a casualty of a fault."""
    return [
        Violation(
            "dead-letters-drain",
            f"{letter.event.type} {letter.event.event_id} is still parked for {letter.group} after every "
            f"fault was healed and it was re-driven (parked at {letter.parked_at:.2f} s: {letter.reason})",
            at=letter.parked_at,
            evidence={"event_id": letter.event.event_id, "type": letter.event.type, "group": letter.group,
                      "reason": letter.reason, "parked_at": letter.parked_at},
            records=_parked_records(result, letter.event.event_id, letter.group),
        )
        for letter in result.dead_letters
    ]


def _parked_records(result: RunResult, event_id: str, group: str) -> tuple[int, ...]:
    """An event's raising and what became of it for ``group``: its deliveries, failures, parking
    and re-drives."""
    index = trace_index(result)
    raised = index.raised.get(event_id)
    return seqs(index.fate(event_id, group), () if raised is None else (raised,))
