"""``queue-capacity``: the waiting room admits no more than its capacity, and only admitted users
reserve.

Both are judged on the trace, in true simulated time, not on the services' own timestamps (which
clock skew can shift).
"""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.sim.run.result import RunResult


@invariant(
    "queue-capacity",
    "safety",
    "Never more active tokens than the capacity; a seat is held only by a user with an active token.",
)
def queue_capacity(result: RunResult) -> list[Violation]:
    capacity = result.scenario.rules.queue_capacity
    violations: list[Violation] = []
    active: set[str] = set()
    admitted_traces: set[str] = set()
    for record in result.trace.of_kind("event.raised", "call.serve"):
        kind = record.kind
        if kind == "event.raised":
            event_type = record.data["type"]
            token_id = record.data["payload"].get("token_id")
            if event_type == "QueueTokenActivatedEvent":
                active.add(token_id)
                if len(active) > capacity:
                    violations.append(
                        Violation("queue-capacity",
                                  f"{len(active)} active tokens at t={record.at:.2f}, capacity {capacity}",
                                  at=record.at, evidence={"active": len(active), "capacity": capacity,
                                                          "token_id": token_id},
                                  records=(record.seq,))
                    )
            elif event_type == "QueueTokenExpiredEvent":
                active.discard(token_id)
            elif event_type == "SeatReservedEvent" and record.trace_id not in admitted_traces:
                reservation_id = record.data["payload"]["reservation_id"]
                violations.append(
                    Violation("queue-capacity",
                              f"{reservation_id} was held without the gateway admitting an active token",
                              at=record.at, evidence={"reservation_id": reservation_id,
                                                      "user_id": record.data["payload"]["user_id"]},
                              records=(record.seq,), saga=reservation_id)
                )
        elif kind == "call.serve" and record.data["endpoint"] == "queue.check" and record.data["outcome"] == "ok":
            admitted_traces.add(record.trace_id)
    return violations
