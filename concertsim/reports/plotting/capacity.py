"""The capacity figure: the utilisation and queue of the busiest resources over time, so a reader
sees which saturated first and when. Drawn from ``metrics.resources`` series, for the pools that
were at least half busy in some second; left out when none was. The queue panel is left out when
no drawn pool ever had a request waiting (:func:`queue_drawn`), and the text says so."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from concertsim.reports.plotting.base import figure_png, legend_outside, time_panels
from concertsim.sim.run.result import RunResult

__all__ = ["capacity_figure", "capacity_png", "queue_drawn", "FILE_NAME", "MOST_DRAWN"]

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


def queue_drawn(resources: dict[str, dict[str, Any]]) -> bool:
    """Whether the figure has a queue panel: some drawn pool had a request waiting in some second."""
    return any(any(row["series"]["queue"]) for _, row in _drawn(resources))


def capacity_figure(resources: dict[str, dict[str, Any]], result: RunResult) -> Figure | None:
    """Utilisation (top) and, if :func:`queue_drawn`, mean queue length (bottom) per second of the
    busiest resources, over the whole run with its fault lanes and heal line; None when there is
    nothing to draw."""
    drawn = _drawn(resources)
    if not drawn:
        return None
    with_queue = queue_drawn(resources)
    figure, panels = time_panels(result, "Worker and connection pools: utilisation and queue over time",
                                 [2.6, 2.2] if with_queue else [2.8])
    busy_axes = panels[0]
    for name, row in drawn:
        series = row["series"]
        label = f"{name} ({row['capacity']})"
        seconds = range(len(series["utilisation"]))
        line, = busy_axes.step(seconds, series["utilisation"], where="post", linewidth=1.1, label=label)
        if with_queue:
            panels[1].step(range(len(series["queue"])), series["queue"], where="post", linewidth=1.1,
                           color=line.get_color())
    busy_axes.set_ylim(0, 1.05)
    busy_axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    busy_axes.set_ylabel("busy (mean per second)")
    if with_queue:
        queue_axes = panels[1]
        queue_axes.set_ylabel("requests queued\n(mean per second)")
        queue_axes.set_ylim(0, max(max(row["series"]["queue"]) for _, row in drawn) * 1.1)
        queue_axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    for axes in panels:
        axes.grid(axis="y", alpha=0.3)
    legend_outside(figure, busy_axes)
    return figure


def capacity_png(resources: dict[str, dict[str, Any]], result: RunResult) -> bytes | None:
    """:func:`capacity_figure` as PNG, or None when there is nothing to draw."""
    figure = capacity_figure(resources, result)
    return None if figure is None else figure_png(figure)
