"""Per-service metrics over time (seed 7: response time per service, event processing time,
failure and retry rates), in bins of simulated time, for the run report's figure. Retries are
counted per caller, from the same chains of requests as ``metrics.reliability``.

Per service, from ``call.serve``: requests served, the p95 of their server time (arrival to reply)
and how many were answered other than ok. Per consumer group, from deliveries and handlings:
events handled, the p95 of their handling time (delivery to handling) and failed handling
attempts (``consumer.failed``, each one retried or parked). A bin belongs to the time a request or
handling ended. Bins are one second long, five in runs longer than ten minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from concertsim.metrics.distribution import percentile
from concertsim.metrics.records import RecordsByKind
from concertsim.sim.infrastructure.parties import service_of
from concertsim.sim.infrastructure.trace import TraceRecord

__all__ = ["service_series", "bin_seconds"]


def bin_seconds(ended_at: float) -> int:
    return 1 if ended_at <= 600 else 5


def _series(samples: dict[int, list[float]], failures: dict[int, int], bins: int) -> dict[str, list[Any]]:
    count, p95, failed = [], [], []
    for index in range(bins):
        values = sorted(samples.get(index, ()))
        count.append(len(values))
        p95.append(round(percentile(values, 95) * 1000, 3) if values else None)
        failed.append(failures.get(index, 0))
    return {"count": count, "p95_ms": p95, "failures": failed}


def service_series(
    records: RecordsByKind, ended_at: float, retry_records: Sequence[TraceRecord]
) -> dict[str, Any]:
    """``bin_seconds``; ``services``: service -> ``count``, ``p95_ms`` (server time, None in a bin
    without requests) and ``failures`` per bin; ``consumers``: group -> ``count``, ``p95_ms``
    (handling time) and ``failures`` (failed attempts) per bin; ``retries``: caller -> requests
    sent again per bin (as :func:`~concertsim.metrics.reliability.retry_sends` counts them).
    Services, groups and callers with nothing to show are left out. ``retry_records``: those retries
    (:func:`~concertsim.metrics.reliability.retry_sends` of ``records``)."""
    width = bin_seconds(ended_at)
    bins = int(math.floor(ended_at / width)) + 1

    def index(at: float) -> int:
        return min(int(at // width), bins - 1)

    served: dict[str, dict[int, list[float]]] = {}
    refused: dict[str, dict[int, int]] = {}
    for record in records.get("call.serve", ()):
        arrived_at = record.data.get("arrived_at")
        if arrived_at is None:
            continue
        served.setdefault(service_of(record.party), {}).setdefault(index(record.at), []).append(record.at - arrived_at)
        if record.data["outcome"] != "ok":
            bucket = refused.setdefault(service_of(record.party), {})
            bucket[index(record.at)] = bucket.get(index(record.at), 0) + 1
    delivered: dict[tuple[str, str], float] = {}
    for record in records.get("broker.deliver", ()):
        delivered.setdefault((record.data["group"], record.data["event_id"]), record.at)
    handled: dict[str, dict[int, list[float]]] = {}
    for record in records.get("consumer.handled", ()):
        key = (record.data["group"], record.data["event_id"])
        if key in delivered:
            handled.setdefault(key[0], {}).setdefault(index(record.at), []).append(record.at - delivered[key])
    failed: dict[str, dict[int, int]] = {}
    for record in records.get("consumer.failed", ()):
        bucket = failed.setdefault(record.data["group"], {})
        bucket[index(record.at)] = bucket.get(index(record.at), 0) + 1
    retried: dict[str, list[int]] = {}
    for record in retry_records:
        retried.setdefault(service_of(record.party), [0] * bins)[index(record.at)] += 1
    return {
        "bin_seconds": width,
        "services": {name: _series(served[name], refused.get(name, {}), bins) for name in sorted(served)},
        "consumers": {name: _series(handled.get(name, {}), failed.get(name, {}), bins)
                      for name in sorted(set(handled) | set(failed))},
        "retries": {caller: retried[caller] for caller in sorted(retried)},
    }
