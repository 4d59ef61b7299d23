"""Server-side time per service and endpoint: how long each request took as the server saw it.

A request's server time runs from its arrival at the host to its reply leaving it: waiting for a
worker, the service time, and the handler's own work (transactions, calls to other services). The
network's transit both ways is not in it; the client latency (``metrics.latency``) has it all,
plus retries. Read from ``call.serve`` records, which carry ``arrived_at`` and ``started_at``; a
request cut short by a crash sent no reply and is not counted.
"""

from __future__ import annotations

from typing import Any

from concertsim.metrics.distribution import percentile, summarize_ms
from concertsim.metrics.records import RecordsByKind
from concertsim.sim.infrastructure.parties import service_of

__all__ = ["server_time"]


def server_time(records: RecordsByKind) -> dict[str, dict[str, dict[str, Any]]]:
    """service -> endpoint -> ``count``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms`` of the
    server time, and ``worker_wait_p95_ms`` / ``worker_wait_max_ms`` of its share spent waiting
    for a worker (a pool too small for the load shows there), by service and endpoint name."""
    totals: dict[tuple[str, str], list[float]] = {}
    waits: dict[tuple[str, str], list[float]] = {}
    for record in records.get("call.serve", ()):
        data = record.data
        arrived_at = data.get("arrived_at")
        if arrived_at is None:  # a trace recorded before the server's times were
            continue
        address = (service_of(record.party), data["endpoint"])
        if address in totals:
            totals[address].append(record.at - arrived_at)
            waits[address].append(data["started_at"] - arrived_at)
        else:
            totals[address] = [record.at - arrived_at]
            waits[address] = [data["started_at"] - arrived_at]
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for service, endpoint in sorted(totals):
        wait = sorted(waits[service, endpoint])
        table.setdefault(service, {})[endpoint] = {
            **summarize_ms(totals[service, endpoint]),
            "worker_wait_p95_ms": round(percentile(wait, 95) * 1000, 3),
            "worker_wait_max_ms": round(wait[-1] * 1000, 3),
        }
    return table
