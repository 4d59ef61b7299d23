"""``events-readable``: a rolling upgrade of an event's schema (seed 6.3, event versioning) loses
no consumer's ability to read what it is delivered.

Judged on the ``consumer.unreadable`` records: a consumer refused an event because it was written
in a version the consumer could not read then. The message names the order of the upgrade that
broke (producers or consumers first) and the reader that would have kept it readable.
"""

from __future__ import annotations

from concertsim.checks.applicability import schema_upgraded
from concertsim.checks.base import Violation, invariant
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
            f"v{data['reads']} with {'an' if data['reader'][0] in 'aeiou' else 'a'} {data['reader']} reader; {order}, and {_FIX[data['reads']]}",
            at=record.at,
            evidence={"event_id": data["event_id"], "group": data["group"], "version": data["version"],
                      "reads": data["reads"], "reader": data["reader"]},
            records=(record.seq,),
        ))
    return violations
