"""``compute_metrics``: the ``metrics`` of ``summary.json``, computed from a run's records.

The trace is read once (:func:`~concertsim.metrics.records.records_by_kind`) and each metric reads
the kinds it needs from there; each is a single ordered pass over those records."""

from __future__ import annotations

from collections import Counter
from typing import Any

from concertsim.metrics.broker_delivery import broker_delivery
from concertsim.metrics.convergence import faults_ended_at, time_to_convergence
from concertsim.metrics.distribution import percentile
from concertsim.metrics.event_processing import event_processing
from concertsim.metrics.funnel import funnel, funnel_losses
from concertsim.metrics.payment_sagas import payment_sagas
from concertsim.metrics.migration_timeline import migration_timeline
from concertsim.metrics.point_shift import point_shift
from concertsim.metrics.point_storage import point_storage
from concertsim.metrics.records import RecordsByKind, records_by_kind
from concertsim.metrics.reliability import call_reliability, consumer_reliability, retry_sends
from concertsim.metrics.replicas import replicas
from concertsim.metrics.resources import resource_usage
from concertsim.metrics.seat_cache import seat_cache
from concertsim.metrics.server_time import server_time
from concertsim.metrics.service_series import service_series
from concertsim.metrics.staleness import staleness
from concertsim.metrics.write_conflicts import write_conflicts
from concertsim.models import points, reservations
from concertsim.sim.infrastructure.collection import rare_collection
from concertsim.sim.run.result import RunResult

__all__ = ["compute_metrics"]


def _latencies(result: RunResult) -> dict[str, dict[str, float]]:
    by_route: dict[str, list[float]] = {}
    for op in result.history:
        if op.complete_at is not None:
            by_route.setdefault(op.route, []).append(op.complete_at - op.invoke_at)
    table = {}
    for route in sorted(by_route):
        values = sorted(by_route[route])
        table[route] = {
            "count": len(values),
            "p50_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
            "p99_ms": percentile(values, 99) * 1000,
            "max_ms": values[-1] * 1000,
        }
    return table


def _count(records: RecordsByKind, kind: str) -> int:
    return len(records.get(kind, ()))


def _published_but_not_delivered(
    records: RecordsByKind, subscriptions: dict[str, list[str]]
) -> tuple[dict[str, int], int]:
    """Why fewer events are delivered than published: the publishes of each event type no consumer
    group subscribes to (never delivered, by design), and the publishes of a subscribed type that
    no group was ever delivered (lost, parked, or still on the way when the run ended)."""
    delivered = {r.data["event_id"] for r in records.get("broker.deliver", ())}
    unsubscribed: Counter[str] = Counter()
    never_delivered = 0
    for record in records.get("broker.append", ()):
        if not subscriptions.get(record.data["type"]):
            unsubscribed[record.data["type"]] += 1
        elif record.data["event_id"] not in delivered:
            never_delivered += 1
    return dict(sorted(unsubscribed.items())), never_delivered


@rare_collection()
def compute_metrics(result: RunResult) -> dict[str, Any]:
    """A JSON-ready dict of the run's figures (the ``metrics`` of ``summary.json``).

    Besides the counts (of ``events``: ``without_subscriber``, the publishes of each event type no
    consumer group subscribes to, and ``never_delivered``, those of a subscribed type no group was
    delivered), the client ``latency`` per route, the ``funnel`` and where it lost users
(``funnel_losses``, :func:`~concertsim.metrics.funnel.funnel_losses`): ``server_time``
    (service -> endpoint, :mod:`~concertsim.metrics.server_time`), ``event_processing`` (per
    consumer group, :mod:`~concertsim.metrics.event_processing`), ``staleness`` (per read model,
    :mod:`~concertsim.metrics.staleness`) and ``reliability`` (``calls``: caller -> endpoint;
    ``consumers``: per group, :mod:`~concertsim.metrics.reliability`) and ``resources`` (each
    worker and connection pool's utilisation, queue and waits, :mod:`~concertsim.metrics.resources`)
    ``series`` (per service and consumer group over time, :mod:`~concertsim.metrics.service_series`)
    ``seat_cache`` (None without one, :mod:`~concertsim.metrics.seat_cache`) and ``point_storage``
    (what storing Point's accounts cost, :mod:`~concertsim.metrics.point_storage`), ``broker``
    (redeliveries, requeues, dead letters and out-of-order handlings,
    :mod:`~concertsim.metrics.broker_delivery`), ``replicas``
    (None without replicated services, :mod:`~concertsim.metrics.replicas`) and ``point_shift``
    (None without a traffic shift, :mod:`~concertsim.metrics.point_shift`) and ``payment_sagas``
    (None outside the orchestration flow, :mod:`~concertsim.metrics.payment_sagas`) and
    ``write_conflicts`` (in total, per database and unit of work, per row when the trace names it,
    :mod:`~concertsim.metrics.write_conflicts`)."""
    records = records_by_kind(result.trace)
    statuses = Counter(
        str(r.status) for r in result.table("reservation", reservations.RESERVATIONS).values()
    )
    ledger: Counter[str] = Counter()
    ledger_counts: Counter[str] = Counter()
    for entry in result.table("point", points.LEDGER).values():
        ledger[entry.kind] += entry.amount
        ledger_counts[entry.kind] += 1
    deliveries_per_handling: Counter[tuple[str, str]] = Counter(
        (r.data["group"], r.data["event_id"]) for r in records.get("broker.deliver", ())
    )
    redelivered = sum(n - 1 for n in deliveries_per_handling.values() if n > 1)
    outcomes = Counter(op.outcome for op in result.history)
    phases = result.phases
    processing = event_processing(records, result.subscriptions)
    retried = retry_sends(records)  # for the calls' table and their series: found once, it reads every call
    without_subscriber, never_delivered = _published_but_not_delivered(records, result.subscriptions)
    return {
        "users": result.counters.get("users", 0),
        "funnel": funnel(result),
        "funnel_losses": funnel_losses(result, records),
        "reservations": {
            "held": sum(statuses.values()),
            "confirmed": statuses.get("CONFIRMED", 0),
            "expired": statuses.get("EXPIRED", 0),
            "failed": statuses.get("FAILED", 0),
            "still_held": statuses.get("HELD", 0) + statuses.get("PAYMENT_PENDING", 0),
        },
        "points": {
            "charged": ledger.get("charge", 0),
            "used": ledger.get("use", 0),
            "refunded": ledger.get("refund", 0),
            "uses": ledger_counts.get("use", 0),
            "refunds": ledger_counts.get("refund", 0),
        },
        "events": {
            "raised": _count(records, "event.raised"),
            "published": _count(records, "broker.append"),
            "delivered": _count(records, "broker.deliver"),
            "redelivered": redelivered,
            "handled": _count(records, "consumer.handled"),
            "duplicates_skipped": _count(records, "consumer.duplicate_skipped"),
            "handling_failures": _count(records, "consumer.failed"),
            "dead_lettered": _count(records, "broker.dead_letter"),
            "still_dead_lettered": len(result.dead_letters),
            "dropped": _count(records, "consumer.dropped") + _count(records, "publish.dropped"),
            "without_subscriber": without_subscriber,
            "never_delivered": never_delivered,
        },
        "client": {
            "operations": len(result.history),
            "ok": outcomes.get("ok", 0),
            "fail": outcomes.get("fail", 0),
            "unknown": outcomes.get("unknown", 0),
        },
        "latency": _latencies(result),
        "messages": {"calls": _count(records, "call.send"), "deliveries": _count(records, "broker.deliver")},
        "faults": {"windows": len(result.fault_windows), "message_strikes": _count(records, "fault.strike")},
        "time": {
            "workload_end": phases.workload_end,
            "heal_at": phases.heal_at,
            "settled_at": phases.settled_at,
            "simulated_seconds": phases.ended_at,
            "faults_ended_at": faults_ended_at(result),
            "time_to_convergence": time_to_convergence(result),
            "wall_seconds": round(result.wall_seconds, 3),
        },
        "trace_records": len(result.trace),
        "server_time": server_time(records),
        "event_processing": processing,
        "staleness": staleness(records, phases.ended_at),
        "reliability": {"calls": call_reliability(records, retried), "consumers": consumer_reliability(processing)},
        "resources": resource_usage(result.resources, phases.ended_at),
        "write_conflicts": write_conflicts(records),
        "series": service_series(records, phases.ended_at, retried),
        "seat_cache": seat_cache(result, records),
        "point_storage": point_storage(result, records),
        "broker": broker_delivery(result, records),
        "replicas": replicas(result, records),
        "point_shift": point_shift(result, records),
        "migration": migration_timeline(result, records),
        "payment_sagas": payment_sagas(result, records),
    }
