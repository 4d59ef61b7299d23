"""``queue-capacity``: the waiting room admits no more than its capacity, and only admitted users
reserve."""

from __future__ import annotations

from concertsim.checks.base import Violation, invariant
from concertsim.models import queue, reservations
from concertsim.sim.result import RunResult


@invariant(
    "queue-capacity",
    "safety",
    "Never more active tokens than the capacity; a seat is held only by a user with an active token.",
)
def queue_capacity(result: RunResult) -> list[Violation]:
    capacity = result.scenario.rules.queue_capacity
    tokens = list(result.table("queue", queue.TOKENS).values())
    changes: list[tuple[float, int, str]] = []
    for token in tokens:
        if token.activated_at is not None:
            changes.append((token.activated_at, 1, token.token_id))
            if token.expired_at is not None:
                changes.append((token.expired_at, -1, token.token_id))
    changes.sort(key=lambda c: (c[0], c[1]))  # at one instant, expiries count before activations
    violations = []
    active = 0
    for at, delta, token_id in changes:
        active += delta
        if active > capacity:
            violations.append(
                Violation("queue-capacity", f"{active} active tokens at t={at:.2f}, capacity {capacity}",
                          at=at, evidence={"active": active, "capacity": capacity, "token_id": token_id})
            )
            break
    slack = result.scenario.network.gateway_timeout
    windows: dict[int, list[tuple[float, float]]] = {}
    for token in tokens:
        if token.activated_at is not None:
            end = token.expired_at if token.expired_at is not None else float("inf")
            windows.setdefault(token.user_id, []).append((token.activated_at, end))
    for r in sorted(result.table("reservation", reservations.RESERVATIONS).values(), key=lambda r: r.reservation_id):
        if not any(start <= r.held_at and end > r.held_at - slack for start, end in windows.get(r.user_id, [])):
            violations.append(
                Violation("queue-capacity", f"{r.reservation_id} was held by user {r.user_id} without an active token",
                          at=r.held_at, evidence={"reservation_id": r.reservation_id, "user_id": r.user_id},
                          saga=r.reservation_id)
            )
    return violations
