"""The headline measures of a run: the numbers runs over many seeds are compared and aggregated by
(``compare``, ``sweep``)."""

from __future__ import annotations

from typing import Any

from concertsim.metrics.distribution import percentile
from concertsim.metrics.summary import compute_metrics
from concertsim.sim.run.result import RunResult

__all__ = ["MEASURES", "MEASURE_DOMAINS", "RATIO_DENOMINATORS", "headline_measures"]

MEASURES: dict[str, str] = {
    "latency_p50_ms": "client latency p50 (ms), every operation",
    "latency_p95_ms": "client latency p95 (ms), every operation",
    "latency_p99_ms": "client latency p99 (ms), every operation",
    "pay_p95_ms": "payment latency p95 (ms)",
    "confirmed_per_minute": "confirmed bookings per minute of workload",
    "time_to_convergence_s": "time from the end of the last fault to quiescence (s); none without faults",
    "messages_per_booking": "calls and event deliveries per confirmed booking",
    **{f"funnel_{stage}": f"users {stage}" if stage != "unsold_seats" else "seats unsold at the end"
       for stage in ("arrived", "admitted", "held", "paid", "confirmed", "abandoned", "unsold_seats")},
}
"""The headline measures, by name, with what each one is."""

MEASURE_DOMAINS: dict[str, str] = {
    "latency_p50_ms": "non_negative",
    "latency_p95_ms": "non_negative",
    "latency_p99_ms": "non_negative",
    "pay_p95_ms": "non_negative",
    "confirmed_per_minute": "non_negative",
    "time_to_convergence_s": "non_negative",
    "messages_per_booking": "non_negative",
    **{f"funnel_{stage}": "count"
       for stage in ("arrived", "admitted", "held", "paid", "confirmed", "abandoned", "unsold_seats")},
}
"""What each headline measure can be (a :data:`concertsim.statistics.Domain`): the one place the
intervals of ``compare``, ``sweep`` and ``migrate`` learn that a latency, a throughput or a time
to convergence is never negative and a count of users never below zero. Paired differences B - A
are unbounded."""

RATIO_DENOMINATORS: dict[str, str] = {"messages_per_booking": "bookings"}
"""The measures that are ratios, with what they are per: ``bookings`` is a run's confirmed
reservations (``SeedResult.confirmed``). Such a ratio over few bookings is counting noise
(:data:`concertsim.statistics.MIN_DENOMINATOR`) and is not compared."""


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
