"""Figures of the load a run carried: latency per endpoint, each client operation's latency against
the time it began (Jepsen's latency plot), throughput and sagas in flight, the outbox backlog and
consumer lag, and the time to convergence after heal.

Each function returns a figure, or :class:`Omitted` with the reason when the run gives it nothing
to show (too few requests for a distribution, a backlog that never left zero, a settle phase that
had nothing to drain).
"""

from __future__ import annotations

from collections import defaultdict

from matplotlib.figure import Figure

from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus
from concertsim.reports.plotting.base import (
    FAULT_COLOUR,
    Omitted,
    count_axis,
    legend_outside,
    milliseconds_axis,
    time_figure,
)
from concertsim.sim.run.result import RunResult

__all__ = ["latency_cdf", "latency_over_time", "throughput_and_sagas", "backlog_and_lag", "convergence",
           "MIN_LATENCY_SAMPLES", "MIN_OPERATIONS", "OUTCOME_COLOURS"]

MIN_LATENCY_SAMPLES = 10
"""An endpoint needs this many completed requests before its latency distribution is drawn."""
MIN_OPERATIONS = 20
"""A run needs this many successful client operations before its throughput is drawn."""


def latency_cdf(result: RunResult) -> Figure | Omitted:
    """The distribution of client-observed latency per endpoint with enough requests."""
    by_route: dict[str, list[float]] = defaultdict(list)
    for op in result.history:
        if op.complete_at is not None:
            by_route[op.route].append(max((op.complete_at - op.invoke_at) * 1000, 0.01))
    drawn = {route: sorted(values) for route, values in by_route.items() if len(values) >= MIN_LATENCY_SAMPLES}
    if not drawn:
        most = max((len(v) for v in by_route.values()), default=0)
        return Omitted(f"no endpoint completed {MIN_LATENCY_SAMPLES} requests (at most {most})")
    figure = Figure(figsize=(9, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for route in sorted(drawn, key=lambda r: (drawn[r][len(drawn[r]) // 2], r)):
        values = drawn[route]
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        axes.step(values, fractions, where="post", label=f"{route} (n={len(values):,})")
    milliseconds_axis(axes, "x")
    axes.set_xlabel("client-observed latency (ms, log scale)")
    axes.set_ylabel("fraction of requests ≤ x")
    axes.set_ylim(0, 1.02)
    axes.grid(True, which="major", alpha=0.3)
    legend_outside(figure, axes, columns=2)
    axes.set_title("Latency per endpoint (CDF), fastest median first")
    return figure


OUTCOME_COLOURS = {"ok": "#1f77b4", "fail": "#d62728", "unknown": "#ff9f1c"}
"""The colour of a client operation's point by its outcome, as in Jepsen's latency plots."""
_OUTCOME_WORDS = {"ok": "ok", "fail": "failed", "unknown": "unknown (timed out)"}


def latency_over_time(result: RunResult) -> Figure | Omitted:
    """One point per client operation that ended: x when it was invoked, y how long until its
    client had an answer or gave up (ms, log scale), coloured by outcome; the run's fault lanes
    above and its fault windows shaded. Admission waves show as bands, the timeout path as a
    line of failed or unknown points at the client's timeout."""
    ended = [op for op in result.history if op.complete_at is not None and op.outcome is not None]
    if len(ended) < MIN_OPERATIONS:
        return Omitted(f"only {len(ended)} client operations ended (fewer than {MIN_OPERATIONS})")
    figure, axes = time_figure(result, "Latency of each client operation, by the time it began", 4.2)
    for outcome in ("ok", "fail", "unknown"):  # the rarer outcomes on top
        mine = [op for op in ended if op.outcome == outcome]
        if mine:
            axes.scatter([op.invoke_at for op in mine],
                         [max((op.complete_at - op.invoke_at) * 1000, 0.01) for op in mine],
                         s=6, color=OUTCOME_COLOURS[outcome], alpha=0.6, linewidths=0,
                         label=f"{_OUTCOME_WORDS[outcome]} ({len(mine):,})", zorder=2)
    milliseconds_axis(axes, "y")
    axes.set_ylabel("latency (ms, log scale)")
    axes.grid(True, which="major", axis="y", alpha=0.3)
    legend_outside(figure, axes, columns=4)
    return figure


def _per_second(times: list[float], buckets: int) -> list[int]:
    counts = [0] * buckets
    for at in times:
        counts[min(max(int(at), 0), buckets - 1)] += 1
    return counts


def throughput_and_sagas(result: RunResult) -> Figure | Omitted:
    """Client operations completed and reservations confirmed per second, with the sagas in flight."""
    succeeded = [op.complete_at for op in result.history if op.complete_at is not None and op.outcome == "ok"]
    if len(succeeded) < MIN_OPERATIONS:
        return Omitted(f"only {len(succeeded)} client operations succeeded (fewer than {MIN_OPERATIONS})")
    buckets = max(1, int(result.phases.ended_at) + 1)
    confirmed = [
        r.confirmed_at for r in result.table("reservation", reservations.RESERVATIONS).values()
        if r.status == ReservationStatus.CONFIRMED and r.confirmed_at is not None
    ]
    figure, axes = time_figure(result, "Throughput and sagas in flight", 4.0)
    seconds = list(range(buckets))
    axes.plot(seconds, _per_second(succeeded, buckets), color="#1f77b4", linewidth=1, label="client operations ok / s")
    axes.plot(seconds, _per_second(confirmed, buckets), color="#2ca02c", linewidth=1.2,
              label="reservations confirmed / s")
    axes.set_ylabel("per second")
    count_axis(axes)
    other = axes.twinx()
    other.plot([s.at for s in result.samples], [s.open_holds for s in result.samples],
               color="#ff7f0e", linewidth=1.5, label="sagas in flight (open holds)")
    other.set_ylabel("sagas in flight")
    count_axis(other)
    legend_outside(figure, axes, other)
    return figure


def backlog_and_lag(result: RunResult) -> Figure | Omitted:
    """Events waiting in outboxes, in the broker for consumers, and parked in dead-letter topics."""
    series = {
        "outbox backlog (unpublished rows)": [s.outbox_backlog for s in result.samples],
        "consumer lag (undelivered events)": [s.consumer_lag for s in result.samples],
        "parked in dead-letter topics": [s.dead_letters for s in result.samples],
    }
    if not any(any(values) for values in series.values()):
        return Omitted("the outboxes, the consumer lag and the dead-letter topics stayed at zero throughout")
    figure, axes = time_figure(result, "Outbox backlog and consumer lag", 3.6)
    times = [s.at for s in result.samples]
    for label, values in series.items():
        if any(values):
            axes.plot(times, values, label=label, linewidth=1.2)
    axes.set_ylabel("events")
    count_axis(axes)
    legend_outside(figure, axes)
    return figure


def convergence(result: RunResult) -> Figure | Omitted:
    """The phases of the run, and how long after the heal the system became quiescent."""
    phases = result.phases
    interval = result.scenario.settle.check_interval
    took = phases.time_to_convergence
    if took is not None and took <= 2 * interval:
        return Omitted(f"the system was quiescent {took:g} s after the heal: nothing was left to drain")
    figure = Figure(figsize=(9, 1.8), layout="constrained")
    axes = figure.add_subplot()
    workload = "workload (with faults)" if result.fault_windows else "workload"
    axes.barh(0, phases.workload_end, height=0.5, color="#1f77b4", alpha=0.7, label=workload)
    if phases.settled_at is not None:
        axes.barh(0, phases.settled_at - phases.heal_at, height=0.5, left=phases.heal_at, color="#2ca02c",
                  label=f"settle: quiescent {took:,.1f} s after the heal")
    else:
        axes.barh(0, phases.ended_at - phases.heal_at, height=0.5, left=phases.heal_at, color=FAULT_COLOUR,
                  label="settle: never quiescent before the deadline")
    axes.axvline(phases.heal_at, color="#555555", linestyle=":", linewidth=1, label="heal")
    axes.set_yticks([])
    axes.set_xlim(0, max(phases.ended_at, 1.0))
    axes.set_xlabel("simulated time (s)")
    legend_outside(figure, axes)
    axes.set_title("Time to convergence after the heal")
    return figure
