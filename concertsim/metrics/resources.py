"""Capacity: how busy each bounded resource was (a host's workers, a database's connections),
how long requests queued for it, and which one saturated first.

Read from the pools' own measurements (:class:`concertsim.sim.infrastructure.workers.PoolUsage`): busy
server-seconds and queued request-seconds per second of simulated time. A resource *saturates* in
a second when its servers were busy at least :data:`SATURATED` of that second on average; the
first such second of each resource says where a flash crowd hurts first.
"""

from __future__ import annotations

from typing import Any

from concertsim.sim.infrastructure.workers import PoolUsage

__all__ = ["SATURATED", "resource_usage", "first_saturated"]

SATURATED = 0.9
"""Mean share of a resource's servers busy over a second at which it counts as saturated."""
BUSY_ENOUGH_FOR_A_SERIES = 0.5
"""A resource gets its per-second series in the metrics if it was ever this busy, or queued."""


def _peak(by_second: dict[int, float]) -> tuple[float, int | None]:
    if not by_second:
        return 0.0, None
    second = max(sorted(by_second), key=lambda s: by_second[s])
    return by_second[second], second


def resource_usage(resources: dict[str, PoolUsage], elapsed: float) -> dict[str, dict[str, Any]]:
    """Per resource, by name: ``capacity``; ``utilisation`` over the run and at its busiest second
    (``peak_utilisation``, ``peak_at``); the first second it saturated (``saturated_at``, None if
    never) and how many seconds it was; its queue (``peak_queue`` mean length in the worst second,
    ``max_queue``) and the waits of the requests that queued (``waits``, ``mean_wait_ms``,
    ``max_wait_ms``) out of ``acquisitions``. A resource that was ever half busy or queued also
    gets ``series``: per second of the run, its mean ``utilisation`` and mean ``queue`` length."""
    table = {}
    for name in sorted(resources):
        usage = resources[name]
        peak_busy, peak_at = _peak(usage.busy_by_second)
        peak_queue, _ = _peak(usage.queue_by_second)
        saturated = sorted(s for s, busy in usage.busy_by_second.items() if busy >= SATURATED * usage.capacity)
        table[name] = {
            "capacity": usage.capacity,
            "utilisation": usage.utilisation(elapsed),
            "peak_utilisation": peak_busy / usage.capacity,
            "peak_at": peak_at,
            "saturated_at": saturated[0] if saturated else None,
            "saturated_seconds": len(saturated),
            "acquisitions": usage.acquisitions,
            "waits": usage.waits,
            "mean_wait_ms": usage.wait_total / usage.waits * 1000 if usage.waits else 0.0,
            "max_wait_ms": usage.wait_max * 1000,
            "peak_queue": peak_queue,
            "max_queue": usage.queue_max,
        }
        if usage.waits or peak_busy >= BUSY_ENOUGH_FOR_A_SERIES * usage.capacity:
            seconds = range(int(elapsed) + 1)
            table[name]["series"] = {
                "utilisation": [round(usage.busy_by_second.get(s, 0.0) / usage.capacity, 4) for s in seconds],
                "queue": [round(usage.queue_by_second.get(s, 0.0), 3) for s in seconds],
            }
    return table


def first_saturated(table: dict[str, dict[str, Any]]) -> list[tuple[str, int]]:
    """The resources that saturated, earliest first (ties by name): (name, second)."""
    return sorted(((name, row["saturated_at"]) for name, row in table.items() if row["saturated_at"] is not None),
                  key=lambda item: (item[1], item[0]))
