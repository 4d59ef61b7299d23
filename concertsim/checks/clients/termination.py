"""``sagas-terminate``: after heal, everything in flight finishes within the settle window."""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.checks.evidence import trace_index
from concertsim.sim.run.result import RunResult


@invariant(
    "sagas-terminate",
    "convergence",
    "After the faults are healed the system becomes quiescent (outboxes empty, no consumer lag, "
    "no saga in flight) within the settle window, and without doing more work than the run's "
    "event budget allows after the heal (a livelock is not settling).",
)
def sagas_terminate(result: RunResult) -> list[Violation]:
    phases = result.phases
    if phases.settled_at is not None:
        return []
    last = result.samples[-1] if result.samples else None
    evidence: dict[str, object] = {"settle_deadline": result.scenario.settle.deadline}
    if last is not None:
        evidence.update(outbox_backlog=last.outbox_backlog, consumer_lag=last.consumer_lag,
                        open_holds=last.open_holds, active_users=last.active_users)
    after = f"{phases.ended_at - phases.heal_at:.0f}s after heal"
    if phases.out_of_events:
        events = result.counters.get("events", 0)
        evidence["events_processed"] = events
        after = f"{after}, having processed {events:,} simulated events (the event budget)"
    return [
        Violation(
            "sagas-terminate",
            f"still not quiescent {after}: {evidence}",
            at=phases.ended_at,
            evidence=evidence,
            records=_heal_and_end(result),
        )
    ]


def _heal_and_end(result: RunResult) -> tuple[int, ...]:
    """The heal record and the run's last record: between them the settle window or the event
    budget ran out (no ``phase.settled`` record follows the heal)."""
    index = trace_index(result)
    last = () if index.last < 0 else (index.last,)
    return tuple(sorted({*index.phase("phase.heal"), *last}))
