"""The capacity figure: the utilisation and queue of the busiest resources over time, so a reader
sees which saturated first and when. Drawn from ``metrics.resources`` series, for the pools that
were at least half busy in some second; left out when none was."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from concertsim.reports.plotting.base import figure_png

__all__ = ["capacity_png", "FILE_NAME", "MOST_DRAWN"]

FILE_NAME = "capacity.png"
MOST_DRAWN = 6


DRAWN_FROM = 0.5
"""A pool is drawn if it was at least this busy in some second; the figure needs one such pool."""


def _drawn(resources: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    with_series = [(name, row) for name, row in resources.items()
                   if "series" in row and row["peak_utilisation"] >= DRAWN_FROM]
    with_series.sort(key=lambda item: (item[1]["saturated_at"] is None, item[1]["saturated_at"] or 0,
                                       -item[1]["peak_utilisation"], item[0]))
    return with_series[:MOST_DRAWN]


def capacity_png(resources: dict[str, dict[str, Any]], until: float) -> bytes | None:
    """Utilisation (top) and mean queue length (bottom) per second of the busiest resources, up to
    a little after the last second any of them was 5% busy (at most ``until``); None when there
    is nothing to draw."""
    drawn = _drawn(resources)
    if not drawn:
        return None
    figure = Figure(figsize=(9, 5.2), layout="constrained")
    busy_axes, queue_axes = figure.subplots(2, 1, sharex=True)
    last = int(until) + 1
    for name, row in drawn:
        series = row["series"]
        seconds = range(min(last, len(series["utilisation"])))
        label = f"{name} ({row['capacity']})"
        busy_axes.step(seconds, series["utilisation"][:len(seconds)], where="post", linewidth=1.1, label=label)
        queue_axes.step(seconds, series["queue"][:len(seconds)], where="post", linewidth=1.1, label=label)
    busy_axes.set_ylim(0, 1.05)
    busy_axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    busy_axes.set_ylabel("busy (mean per second)")
    busy_axes.set_title("Worker and connection pools: utilisation and queue over time")
    queue_axes.set_ylabel("requests queued\n(mean per second)")
    queue_axes.set_xlabel("simulated time (s)")
    queue_axes.set_ylim(0, max(1.0, max(max(row["series"]["queue"]) for _, row in drawn) * 1.1))
    queue_axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    busy_until = max((second for _, row in drawn for second, value in enumerate(row["series"]["utilisation"])
                      if value >= 0.05), default=0)
    shown_until = min(until, max(10.0, busy_until * 1.15 + 5))  # the quiet tail after the load is left out
    for axes in (busy_axes, queue_axes):
        axes.grid(axis="y", alpha=0.3)
        axes.set_xlim(0, shown_until)
    figure.legend(*busy_axes.get_legend_handles_labels(), loc="outside lower center", fontsize=8, frameon=False,
                  ncol=min(3, len(drawn)))
    return figure_png(figure)
