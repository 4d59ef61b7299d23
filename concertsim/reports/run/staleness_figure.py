"""The read-model staleness figure: how many changes of Reservation's truth Concert's seat view and
Data Platform's collection had not yet shown, and how old the oldest of them was, over time.

It draws ``metrics.staleness`` (its ``series``, see :mod:`concertsim.metrics.lag_series`); a run
without any change to show gets no figure. Fault windows are shaded and the heal is marked, as in
the run's other figures over time, over the same range (the whole run) and with the same fault
lanes.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concertsim.reports.plotting.base import figure_png, legend_outside, time_panels
from concertsim.sim.run.result import RunResult

__all__ = ["staleness_figure", "staleness_png", "DRAWN", "FILE_NAME"]

FILE_NAME = "staleness.png"
DRAWN: dict[str, tuple[str, str]] = {
    "seat_view": ("Concert's seat view", "#1f77b4"),
    "data_platform": ("Data Platform's collection", "#9467bd"),
}
"""The read models drawn, by their key in ``metrics.staleness``: label and colour. The ranking is
left out: Concert updates its sales tally in the same handling as the seat it sells."""


def _has_changes(staleness: dict[str, Any]) -> bool:
    return any(staleness.get(key, {}).get("changes", 0) for key in DRAWN)


def staleness_figure(result: RunResult, staleness: dict[str, Any]) -> Figure | None:
    """Two panels over simulated time: the most changes pending at once in each bin (top) and the
    oldest lag in each bin (bottom, in ms, or in s when it reaches 10 s). None when no read model
    had a change to show."""
    if not _has_changes(staleness):
        return None
    figure, (pending_axes, lag_axes) = time_panels(
        result, "Read-model staleness: changes of Reservation's truth not yet shown", [2.3, 2.3])
    drawn = [(key, staleness[key]) for key in DRAWN if staleness.get(key, {}).get("changes", 0)]
    longest_ms = max(max(model["series"]["oldest_lag_ms"], default=0.0) for _, model in drawn)
    in_seconds = longest_ms >= 10_000
    for key, model in drawn:
        label, colour = DRAWN[key]
        series = model["series"]
        width = series["bin_seconds"]
        starts = [index * width for index in range(len(series["peak_pending"]))]
        pending_axes.step(starts, series["peak_pending"], where="post", color=colour, linewidth=1.1, label=label)
        lags = [value / 1000 if in_seconds else value for value in series["oldest_lag_ms"]]
        lag_axes.step(starts, lags, where="post", color=colour, linewidth=1.1)
    bin_text = "second" if drawn[0][1]["series"]["bin_seconds"] == 1 else f"{drawn[0][1]['series']['bin_seconds']:g} s"
    pending_axes.set_ylabel(f"changes not yet shown\n(most at once per {bin_text})")
    pending_axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    pending_axes.set_ylim(bottom=0)
    lag_axes.set_ylabel(f"oldest lag ({'s' if in_seconds else 'ms'})")
    lag_axes.set_ylim(bottom=0)
    for axes in (pending_axes, lag_axes):
        axes.grid(True, alpha=0.3)
    legend_outside(figure, pending_axes)
    return figure


def staleness_png(result: RunResult, staleness: dict[str, Any]) -> bytes | None:
    """The figure as PNG bytes, or None when there is nothing to draw."""
    figure = staleness_figure(result, staleness)
    return None if figure is None else figure_png(figure)
