"""The seat timeline: per concert date, how many seats were sold, held, released by a hold that
ended unpaid (and not sold again since), or never taken, over the run's simulated time, under its
fault lanes and with its heal line, as every run figure over time."""

from __future__ import annotations

from collections import Counter

from matplotlib.figure import Figure

from concertsim.models import reservations
from concertsim.reports.plotting.base import Omitted, count_axis, legend_outside, run_span, time_panels
from concertsim.reports.run.unsold_seats import last_user_left
from concertsim.sim.run.result import RunResult

__all__ = ["seat_timeline", "STATE_COLOURS", "MIN_SEATS_HELD"]

STATE_COLOURS = {"sold": "#2ca02c", "held": "#ff7f0e", "released, not sold again": "#e377c2", "free": "#dddddd"}
_STEPS = 300
MIN_SEATS_HELD = 3
"""Fewer seats ever held than this are told by their sagas, not drawn as a timeline."""


def seat_timeline(result: RunResult) -> Figure | Omitted:
    """Stacked seat states per date; left out when no seat was ever held."""
    booked = list(result.table("reservation", reservations.RESERVATIONS).values())
    seats_per_date = Counter(date_id for date_id, _ in result.table("reservation", reservations.SEATS))
    held_seats = {(r.date_id, r.seat_no) for r in booked}
    if len(held_seats) < MIN_SEATS_HELD or not seats_per_date:
        if not held_seats:
            return Omitted("no seat was ever held: every seat stayed free")
        which = ", ".join(sorted(r.reservation_id for r in booked))
        held = "1 seat was" if len(held_seats) == 1 else f"{len(held_seats)} seats were"
        return Omitted(f"only {held} ever held ({which}): its saga tells the story")
    dates = sorted(seats_per_date)
    end = run_span(result)
    steps = [end * i / _STEPS for i in range(_STEPS + 1)]
    left = last_user_left(result)
    figure, rows = time_panels(result, "Seat states over time, per concert date (Reservation's view)",
                               [1.9] * len(dates))
    for axes, date_id in zip(rows, dates, strict=True):
        mine = [r for r in booked if r.date_id == date_id]
        counts: dict[str, list[int]] = {state: [] for state in STATE_COLOURS}
        for t in steps:
            sold = {(r.seat_no) for r in mine if r.confirmed_at is not None and r.confirmed_at <= t}
            held = {r.seat_no for r in mine if r.held_at <= t and (r.confirmed_at is None or r.confirmed_at > t)
                    and (r.ended_at is None or r.ended_at > t)}
            released = {r.seat_no for r in mine if r.confirmed_at is None and r.ended_at is not None
                        and r.ended_at <= t} - sold - held
            counts["sold"].append(len(sold))
            counts["held"].append(len(held))
            counts["released, not sold again"].append(len(released))
            counts["free"].append(seats_per_date[date_id] - len(sold) - len(held) - len(released))
        axes.stackplot(steps, *counts.values(), labels=list(counts), colors=list(STATE_COLOURS.values()))
        if left is not None:
            axes.axvline(left, color="#333333", linestyle="--", linewidth=1,
                         label="last user left" if date_id == dates[0] else None)
        axes.set_ylabel(f"date {date_id}\nseats")
        axes.set_ylim(0, seats_per_date[date_id])
        count_axis(axes)
        axes.set_ylim(0, seats_per_date[date_id])
    legend_outside(figure, rows[0], columns=6)
    return figure
