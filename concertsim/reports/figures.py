"""The figures of a run report (matplotlib, rendered to PNG without any global pyplot state).

Each figure is one small function from the run's records to a ``Figure``; ``render_run_figures``
renders them all. Fault windows are shaded the same way wherever time is the x axis.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from concertsim.models import reservations  # noqa: E402
from concertsim.models.reservations import ReservationStatus  # noqa: E402
from concertsim.reports.saga import saga_of  # noqa: E402
from concertsim.sim.result import RunResult  # noqa: E402

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = ["RenderedFigure", "render_run_figures", "figure_png", "default_saga", "LIFELINES"]

DPI = 110
FAULT_COLOUR = "#d62728"
LIFELINES = ("client", "gateway", "queue", "reservation", "concert", "point", "broker", "data_platform")


@dataclass(frozen=True)
class RenderedFigure:
    name: str
    title: str
    caption: str
    png: bytes


def figure_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _empty(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes, color="#666666")
    axes.set_xticks([])
    axes.set_yticks([])


def _shade_faults(axes: Axes, result: RunResult) -> None:
    """Shade each fault window and mark the heal phase."""
    labelled = False
    for window in result.fault_windows:
        end = window["end"] if window["end"] is not None else result.phases.heal_at
        axes.axvspan(window["start"], max(end, window["start"] + 0.2), color=FAULT_COLOUR, alpha=0.12,
                     label=None if labelled else "fault window")
        axes.annotate(f"{window['kind']} {window['target']}", (window["start"], 1.0),
                      xycoords=("data", "axes fraction"), fontsize=7, color=FAULT_COLOUR,
                      rotation=90, va="top", ha="right")
        labelled = True
    axes.axvline(result.phases.heal_at, color="#555555", linestyle=":", linewidth=1, label="heal")


def latency_cdf(result: RunResult) -> Figure:
    figure = Figure(figsize=(9, 4.5))
    axes = figure.add_subplot()
    by_route: dict[str, list[float]] = defaultdict(list)
    for op in result.history:
        if op.complete_at is not None:
            by_route[op.route].append((op.complete_at - op.invoke_at) * 1000)
    if not by_route:
        _empty(axes, "no client operations")
    for route in sorted(by_route):
        values = sorted(max(v, 0.01) for v in by_route[route])
        fractions = [(i + 1) / len(values) for i in range(len(values))]
        axes.step(values, fractions, where="post", label=f"{route} (n={len(values)})")
    if by_route:
        axes.set_xscale("log")
        axes.set_xlabel("client-observed latency (ms, log scale)")
        axes.set_ylabel("fraction of requests ≤ x")
        axes.set_ylim(0, 1.02)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7, loc="lower right")
    axes.set_title("Latency per endpoint (CDF)")
    return figure


def throughput_and_sagas(result: RunResult) -> Figure:
    figure = Figure(figsize=(9, 4.5))
    axes = figure.add_subplot()
    end = result.phases.ended_at
    buckets = max(1, int(end) + 1)
    completed = [0] * buckets
    for op in result.history:
        if op.complete_at is not None and op.outcome == "ok":
            completed[min(int(op.complete_at), buckets - 1)] += 1
    confirmed = [0] * buckets
    for r in result.table("reservation", reservations.RESERVATIONS).values():
        if r.status == ReservationStatus.CONFIRMED and r.confirmed_at is not None:
            confirmed[min(max(int(r.confirmed_at), 0), buckets - 1)] += 1
    seconds = list(range(buckets))
    axes.plot(seconds, completed, color="#1f77b4", linewidth=1, label="client operations ok / s")
    axes.plot(seconds, confirmed, color="#2ca02c", linewidth=1.2, label="reservations confirmed / s")
    axes.set_xlabel("simulated time (s)")
    axes.set_ylabel("per second")
    other = axes.twinx()
    other.plot([s.at for s in result.samples], [s.open_holds for s in result.samples],
               color="#ff7f0e", linewidth=1.5, label="sagas in flight (open holds)")
    other.set_ylabel("sagas in flight")
    _shade_faults(axes, result)
    lines = axes.get_legend_handles_labels()
    more = other.get_legend_handles_labels()
    axes.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="upper right")
    axes.set_title("Throughput and sagas in flight")
    return figure


def backlog_and_lag(result: RunResult) -> Figure:
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    times = [s.at for s in result.samples]
    axes.plot(times, [s.outbox_backlog for s in result.samples], label="outbox backlog (unpublished rows)")
    axes.plot(times, [s.consumer_lag for s in result.samples], label="consumer lag (undelivered events)")
    axes.plot(times, [s.dead_letters for s in result.samples], label="parked in dead-letter topics")
    _shade_faults(axes, result)
    axes.set_xlabel("simulated time (s)")
    axes.set_ylabel("events")
    axes.legend(fontsize=7, loc="upper right")
    axes.set_title("Outbox backlog and consumer lag")
    return figure


def convergence(result: RunResult) -> Figure:
    figure = Figure(figsize=(9, 1.6))
    axes = figure.add_subplot()
    phases = result.phases
    axes.barh(0, phases.workload_end, height=0.5, color="#1f77b4", alpha=0.7, label="workload (with faults)")
    if phases.settled_at is not None:
        axes.barh(0, max(phases.settled_at - phases.heal_at, 0.2), height=0.5, left=phases.heal_at, color="#2ca02c",
                  label=f"settle: converged {phases.settled_at - phases.heal_at:.1f}s after heal")
    else:
        axes.barh(0, phases.ended_at - phases.heal_at, height=0.5, left=phases.heal_at, color=FAULT_COLOUR,
                  label="settle: never converged before the deadline")
    axes.axvline(phases.heal_at, color="#555555", linestyle=":", linewidth=1)
    axes.set_yticks([])
    axes.set_xlabel("simulated time (s)")
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, -0.45), ncol=2, frameon=False)
    axes.set_title("Time to convergence after heal")
    return figure


def seat_timeline(result: RunResult) -> Figure:
    booked = list(result.table("reservation", reservations.RESERVATIONS).values())
    dates = sorted({d for d, _ in result.table("reservation", reservations.SEATS)})
    figure = Figure(figsize=(9, 1.8 + 1.6 * max(1, len(dates))))
    if not dates:
        _empty(figure.add_subplot(), "no seats")
        return figure
    seats_per_date = defaultdict(int)
    for date_id, _ in result.table("reservation", reservations.SEATS):
        seats_per_date[date_id] += 1
    end = result.phases.ended_at
    steps = [end * i / 300 for i in range(301)]
    for row, date_id in enumerate(dates, start=1):
        axes = figure.add_subplot(len(dates), 1, row)
        held, sold = [], []
        mine = [r for r in booked if r.date_id == date_id]
        for t in steps:
            sold.append(sum(1 for r in mine if r.confirmed_at is not None and r.confirmed_at <= t))
            held.append(sum(
                1 for r in mine
                if r.held_at <= t and (r.confirmed_at is None or r.confirmed_at > t)
                and (r.ended_at is None or r.ended_at > t)
            ))
        free = [seats_per_date[date_id] - h - s for h, s in zip(held, sold)]
        axes.stackplot(steps, sold, held, free, labels=["sold", "held", "free"],
                       colors=["#2ca02c", "#ff7f0e", "#dddddd"])
        axes.set_ylabel(f"date {date_id}\nseats")
        axes.set_xlim(0, end)
        if row == 1:
            axes.legend(fontsize=7, loc="upper right", ncol=3)
            axes.set_title("Seat states over time, per concert date (Reservation's view)")
        if row == len(dates):
            axes.set_xlabel("simulated time (s)")
    figure.tight_layout()
    return figure


def default_saga(outcome: RunOutcome) -> str | None:
    """The saga worth drawing: the first violation's, else the first confirmed reservation."""
    for verdict in outcome.verdicts:
        for violation in verdict.violations:
            if violation.saga:
                return violation.saga
    booked = outcome.result.table("reservation", reservations.RESERVATIONS)
    confirmed = sorted(
        (r for r in booked.values() if r.status == ReservationStatus.CONFIRMED),
        key=lambda r: (r.held_at, r.reservation_id),
    )
    if confirmed:
        return confirmed[0].reservation_id
    return min(booked, default=None)


def message_flow(result: RunResult, reservation_id: str | None) -> Figure:
    """A Lamport diagram of one saga: lifelines, calls and events as arrows, time downward."""
    if reservation_id is None:
        figure = Figure(figsize=(9, 2))
        _empty(figure.add_subplot(), "no reservation to draw")
        return figure
    saga = saga_of(result, reservation_id)
    records = saga.records
    sends = {r.data["call"]: r for r in records if r.kind == "call.send"}
    serves = {r.data["call"]: r for r in records if r.kind == "call.serve"}
    appends = {}
    arrows: list[tuple[str, float, str, float, str, str]] = []
    marks: list[tuple[str, float, str]] = []
    for r in records:
        d = r.data
        if r.kind == "call.serve" and d["call"] in sends:
            send = sends[d["call"]]
            arrows.append((send.party, send.at, r.party, r.at, d["endpoint"], "call"))
        elif r.kind == "call.return" and d["call"] in serves:
            serve = serves[d["call"]]
            arrows.append((serve.party, serve.at, r.party, r.at, d["outcome"], "reply"))
        elif r.kind in ("call.reply_lost", "call.request_lost"):
            marks.append((r.party, r.at, "reply lost" if "reply" in r.kind else "request lost"))
        elif r.kind == "broker.append":
            appends.setdefault(d["event_id"], r)
            arrows.append((r.party, r.at, "broker", r.at, d["type"].removesuffix("Event"), "publish"))
        elif r.kind == "broker.deliver" and d["event_id"] in appends:
            arrows.append(("broker", appends[d["event_id"]].at, d["group"], r.at, d["type"].removesuffix("Event"), "event"))
        elif r.kind in ("fault.start", "fault.strike", "host.crash", "daemon.crash"):
            party = r.party if r.party in LIFELINES else d.get("destination", d.get("target", "broker"))
            party = party.split(":")[-1] if isinstance(party, str) else "broker"
            label = f"{d.get('kind', r.kind)} {d.get('target', d.get('channel', ''))}"
            marks.append((party if party in LIFELINES else "broker", r.at, "FAULT " + label.strip()))
    parties = [p for p in LIFELINES if any(p in (a[0], a[2]) for a in arrows) or any(p == m[0] for m in marks)]
    height = max(4.0, 0.22 * (len(arrows) + len(marks)) + 1.5)
    figure = Figure(figsize=(10, min(height, 40)))
    axes = figure.add_subplot()
    if not arrows:
        _empty(axes, f"no messages recorded for {reservation_id}")
        return figure
    column = {p: i for i, p in enumerate(parties)}
    start = min(a[1] for a in arrows)
    stop = max(max(a[3] for a in arrows), max((m[1] for m in marks), default=start))
    # Real time is mostly idle; draw each message one step below the previous (Lamport order),
    # with the simulated time of each step on the y axis.
    events = sorted({a[1] for a in arrows} | {a[3] for a in arrows} | {m[1] for m in marks})
    rank = {t: i for i, t in enumerate(events)}
    for party, x in column.items():
        axes.plot([x, x], [-0.5, len(events) - 0.5], color="#bbbbbb", linewidth=1, zorder=0)
    styles = {"call": ("#1f77b4", "-"), "reply": ("#1f77b4", "--"), "publish": ("#9467bd", "-"), "event": ("#9467bd", "-")}
    for source, sent, target, received, label, kind in arrows:
        if source not in column or target not in column:
            continue
        colour, line = styles[kind]
        y0, y1 = rank[sent], rank[received]
        axes.annotate("", xy=(column[target], y1), xytext=(column[source], y0),
                      arrowprops={"arrowstyle": "->", "color": colour, "linestyle": line, "linewidth": 1})
        axes.text((column[source] + column[target]) / 2, (y0 + y1) / 2, label, fontsize=6.5,
                  ha="center", va="bottom", color=colour)
    for party, at, label in marks:
        if party not in column:
            continue
        axes.plot(column[party], rank[at], marker="X", color=FAULT_COLOUR, markersize=8)
        axes.text(column[party] + 0.08, rank[at], label, fontsize=7, color=FAULT_COLOUR, va="center")
    axes.set_xticks(range(len(parties)), parties, fontsize=8)
    axes.xaxis.tick_top()
    shown = events[:: max(1, len(events) // 25)]
    axes.set_yticks([rank[t] for t in shown], [f"{t:.3f}s" for t in shown], fontsize=7)
    axes.set_ylim(len(events) - 0.5, -0.8)
    axes.set_xlim(-0.6, len(parties) - 0.4)
    axes.set_ylabel("simulated time (each message one step down)")
    axes.set_title(f"Message flow of {reservation_id} ({start:.2f}s to {stop:.2f}s)", pad=24)
    return figure


def render_run_figures(outcome: RunOutcome, *, saga: str | None = None) -> list[RenderedFigure]:
    """Every figure of a run report, as PNG bytes with a title and a caption."""
    result = outcome.result
    chosen = saga or default_saga(outcome)
    made = [
        ("latency-cdf", "Latency per endpoint", "How long clients waited, per public endpoint; a long tail points at queueing or timeouts.", latency_cdf(result)),
        ("throughput", "Throughput and sagas in flight", "Work done per second and reservations still open; fault windows are shaded red.", throughput_and_sagas(result)),
        ("backlog", "Outbox backlog and consumer lag", "Events waiting to be published or consumed; they must drain to zero after heal.", backlog_and_lag(result)),
        ("convergence", "Time to convergence", "How long after the heal the system became quiescent (or that it never did).", convergence(result)),
        ("seat-timeline", "Seat states per date", "Seats sold, held and free over time; holds that expire return seats to sale.", seat_timeline(result)),
        ("message-flow", f"Message flow of {chosen}", "One saga across the services: calls, replies and events as arrows, time downward, faults in red.", message_flow(result, chosen)),
    ]
    return [RenderedFigure(name, title, caption, figure_png(figure)) for name, title, caption, figure in made]
