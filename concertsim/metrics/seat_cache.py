"""Concert's seat cache (``seat_cache``, seed 3.2): how often a listing was served from it, how
stale those listings were, and the holds refused because the seat shown was taken meanwhile."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.distribution import percentile
from concertsim.metrics.records import RecordsByKind
from concertsim.sim.run.result import RunResult

__all__ = ["seat_cache"]


def seat_cache(result: RunResult, records: RecordsByKind) -> dict[str, Any] | None:
    """None without a cache; else its ``mode`` and ``ttl``, the listings served from it
    (``hits``), those behind the view (``stale_hits``, ``most_behind`` seat changes, the oldest
    of them ``stale_age_max_s``) and the seats they showed free that the view already showed held
    or sold (``shown_taken``), the age of the listings served (``age_p95_s``, ``age_max_s``),
    and the holds refused with
    ``seat-unavailable`` (``refused_holds``, out of ``hold_attempts``)."""
    spec = result.scenario.seat_cache
    if spec.mode == "none":
        return None
    hits = [r.data for r in records.get("cache.hit", ())]
    ages = sorted(hit["age"] for hit in hits)
    holds = [op for op in result.history if op.action == "hold"]
    return {
        "mode": spec.mode,
        "ttl": spec.ttl,
        "hits": len(hits),
        "stale_hits": sum(1 for hit in hits if hit["behind"] > 0),
        "most_behind": max((hit["behind"] for hit in hits), default=0),
        "stale_age_max_s": max((hit["age"] for hit in hits if hit["behind"] > 0), default=None),
        "shown_taken": sum(hit.get("taken", 0) for hit in hits),
        "age_p95_s": percentile(ages, 95) if ages else None,
        "age_max_s": ages[-1] if ages else None,
        "hold_attempts": len(holds),
        "refused_holds": sum(1 for op in holds if op.error == "seat-unavailable"),
    }
