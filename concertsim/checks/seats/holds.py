"""``no-duplicate-holds``: one hold request makes at most one hold, and no user holds more seats at
once than the rules allow (seed 3.2).

A client that lost the reply of ``POST /reservations`` retries it, or tries another seat; without
an idempotency key and a per-user limit, each such retry leaves a ghost hold that blocks a seat
for a whole TTL while its user never learns of it.
"""

from __future__ import annotations

from collections import defaultdict

from concertsim.checks.applicability import seat_held
from concertsim.checks.base import Violation, invariant
from concertsim.sim.run.result import RunResult

_HOLD_ENDS = ("ReservationCompletedEvent", "ReservationExpiredEvent", "ReservationFailedEvent")


@invariant(
    "no-duplicate-holds",
    "safety",
    "A hold request makes at most one reservation, however often it is retried, and no user has "
    "more open holds at once than rules.max_open_holds_per_user.",
    applies=seat_held,
)
def no_duplicate_holds(result: RunResult) -> list[Violation]:
    """Replays SeatReservedEvent and the events that end a hold, in commit order. A hold counts
    as open from its SeatReservedEvent until its end event or its expiry; expiry is judged on
    Reservation's clock, the one that stamped ``hold_expires_at`` (the new hold's own time is its
    ``hold_expires_at`` minus the TTL)."""
    ttl = result.scenario.rules.hold_ttl
    limit = result.scenario.rules.max_open_holds_per_user
    hold_ops = {op.op_id: op for op in result.history if op.action == "hold"}
    made_by: dict[str, list[tuple[str, int]]] = defaultdict(list)
    open_holds: dict[int, dict[str, float]] = defaultdict(dict)
    violations = []
    for record in result.trace.of_kind("event.raised"):
        event_type, payload = record.data["type"], record.data["payload"]
        if event_type in _HOLD_ENDS:
            open_holds[payload["user_id"]].pop(payload["reservation_id"], None)
            continue
        if event_type != "SeatReservedEvent":
            continue
        user_id, reservation_id = payload["user_id"], payload["reservation_id"]
        if record.trace_id in hold_ops:
            made_by[record.trace_id].append((reservation_id, record.seq))
        held_at = payload["hold_expires_at"] - ttl
        still_open = {r: at for r, at in open_holds[user_id].items() if at > held_at}
        if len(still_open) >= limit:
            violations.append(
                Violation(
                    "no-duplicate-holds",
                    f"user {user_id} was given {reservation_id} while holding {sorted(still_open)} "
                    f"(at most {limit} open hold(s) per user)",
                    at=record.at,
                    evidence={"user_id": user_id, "reservation_id": reservation_id,
                              "open_holds": sorted(still_open), "limit": limit},
                    records=(record.seq,),
                    saga=reservation_id,
                )
            )
        still_open[reservation_id] = payload["hold_expires_at"]
        open_holds[user_id] = still_open
    for op_id, made in made_by.items():
        if len(made) > 1:
            op = hold_ops[op_id]
            violations.append(
                Violation(
                    "no-duplicate-holds",
                    f"hold request {op_id} of user {op.user_id} made {len(made)} reservations "
                    f"({', '.join(r for r, _ in made)}): the retries were not recognised as one request",
                    at=op.invoke_at,
                    evidence={"op": op.to_json(), "reservations": [r for r, _ in made]},
                    records=tuple(seq for _, seq in made),
                    saga=made[-1][0],
                )
            )
    return violations
