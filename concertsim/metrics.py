"""Run metrics: counts, latency percentiles and convergence, computed from a run's records.

:func:`compute_metrics` is the ``metrics`` of ``summary.json``; :func:`headline_measures` picks
the numbers that runs over many seeds are compared and aggregated by (``compare``, ``sweep``)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from concertsim.models import points, queue, reservations
from concertsim.sim.result import RunResult

__all__ = ["compute_metrics", "headline_measures", "MEASURES", "percentile", "funnel"]


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by the nearest-rank method; NaN for no values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


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


def _count_kinds(result: RunResult, kinds: Iterable[str]) -> dict[str, int]:
    wanted = set(kinds)
    counts = Counter(r.kind for r in result.trace.records if r.kind in wanted)
    return {k: counts.get(k, 0) for k in sorted(wanted)}


def funnel(result: RunResult) -> dict[str, int]:
    """How far the users got, each counted once at every stage they reached: ``arrived``;
    ``admitted`` (their queue token was activated); ``held`` (a reservation was made for them);
    ``paid`` (they asked to pay); ``confirmed`` (a reservation of theirs ended CONFIRMED);
    ``abandoned`` (held a seat and never asked to pay); and ``unsold_seats``, the seats not sold
    when the run ended (Reservation's seats)."""
    admitted = {t.user_id for t in result.table("queue", queue.TOKENS).values() if t.activated_at is not None}
    booked = result.table("reservation", reservations.RESERVATIONS).values()
    held = {r.user_id for r in booked}
    confirmed = {r.user_id for r in booked if r.status == reservations.ReservationStatus.CONFIRMED}
    paid = {op.user_id for op in result.history if op.action == "pay"}
    unsold = sum(1 for seat in result.table("reservation", reservations.SEATS).values()
                 if seat.status != reservations.SeatStatus.SOLD)
    return {
        "arrived": result.counters.get("users", 0),
        "admitted": len(admitted),
        "held": len(held),
        "paid": len(paid),
        "confirmed": len(confirmed),
        "abandoned": len(held - paid),
        "unsold_seats": unsold,
    }


def compute_metrics(result: RunResult) -> dict[str, Any]:
    """A JSON-ready dict of the run's figures (the ``metrics`` of ``summary.json``)."""
    statuses = Counter(
        str(r.status) for r in result.table("reservation", reservations.RESERVATIONS).values()
    )
    ledger = Counter()
    ledger_counts = Counter()
    for entry in result.table("point", points.LEDGER).values():
        ledger[entry.kind] += entry.amount
        ledger_counts[entry.kind] += 1
    kinds = _count_kinds(
        result,
        [
            "event.raised", "broker.append", "broker.deliver", "consumer.handled",
            "consumer.duplicate_skipped", "consumer.failed", "consumer.dropped",
            "broker.dead_letter", "publish.dropped", "call.send", "fault.strike",
        ],
    )
    deliveries_per_handling: Counter[tuple[str, str]] = Counter(
        (r.data["group"], r.data["event_id"]) for r in result.trace.of_kind("broker.deliver")
    )
    redelivered = sum(n - 1 for n in deliveries_per_handling.values() if n > 1)
    outcomes = Counter(op.outcome for op in result.history)
    phases = result.phases
    return {
        "users": result.counters.get("users", 0),
        "funnel": funnel(result),
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
            "raised": kinds["event.raised"],
            "published": kinds["broker.append"],
            "delivered": kinds["broker.deliver"],
            "redelivered": redelivered,
            "handled": kinds["consumer.handled"],
            "duplicates_skipped": kinds["consumer.duplicate_skipped"],
            "handling_failures": kinds["consumer.failed"],
            "dead_lettered": kinds["broker.dead_letter"],
            "still_dead_lettered": len(result.dead_letters),
            "dropped": kinds["consumer.dropped"] + kinds["publish.dropped"],
        },
        "client": {
            "operations": len(result.history),
            "ok": outcomes.get("ok", 0),
            "fail": outcomes.get("fail", 0),
            "unknown": outcomes.get("unknown", 0),
        },
        "latency": _latencies(result),
        "messages": {"calls": kinds["call.send"], "deliveries": kinds["broker.deliver"]},
        "faults": {"windows": len(result.fault_windows), "message_strikes": kinds["fault.strike"]},
        "time": {
            "workload_end": phases.workload_end,
            "heal_at": phases.heal_at,
            "settled_at": phases.settled_at,
            "simulated_seconds": phases.ended_at,
            "time_to_convergence": phases.time_to_convergence,
            "wall_seconds": round(result.wall_seconds, 3),
        },
        "trace_records": len(result.trace),
    }


MEASURES: dict[str, str] = {
    "latency_p50_ms": "client latency p50 (ms), every operation",
    "latency_p95_ms": "client latency p95 (ms), every operation",
    "latency_p99_ms": "client latency p99 (ms), every operation",
    "pay_p95_ms": "payment latency p95 (ms)",
    "confirmed_per_minute": "confirmed bookings per minute of workload",
    "time_to_convergence_s": "time from heal to convergence (s)",
    "messages_per_booking": "calls and event deliveries per confirmed booking",
    **{f"funnel_{stage}": f"users {stage}" if stage != "unsold_seats" else "seats unsold at the end"
       for stage in ("arrived", "admitted", "held", "paid", "confirmed", "abandoned", "unsold_seats")},
}
"""The headline measures, by name, with what each one is."""


def headline_measures(result: RunResult, metrics: dict[str, Any] | None = None) -> dict[str, float | None]:
    """The :data:`MEASURES` of one run (None where a run has none: no payment, no convergence,
    no booking). ``metrics`` is the run's :func:`compute_metrics`, if already computed."""
    metrics = metrics if metrics is not None else compute_metrics(result)
    latencies = sorted(op.complete_at - op.invoke_at for op in result.history if op.complete_at is not None)
    pay = metrics["latency"].get("POST /api/v1/payments")
    confirmed = metrics["reservations"]["confirmed"]
    workload_seconds = metrics["time"]["workload_end"]
    messages = metrics["messages"]["calls"] + metrics["messages"]["deliveries"]

    def ms(q: float) -> float | None:
        return percentile(latencies, q) * 1000 if latencies else None

    return {
        "latency_p50_ms": ms(50),
        "latency_p95_ms": ms(95),
        "latency_p99_ms": ms(99),
        "pay_p95_ms": pay["p95_ms"] if pay else None,
        "confirmed_per_minute": confirmed / workload_seconds * 60 if workload_seconds else None,
        "time_to_convergence_s": metrics["time"]["time_to_convergence"],
        "messages_per_booking": messages / confirmed if confirmed else None,
        **{f"funnel_{stage}": float(count) for stage, count in metrics["funnel"].items()},
    }
