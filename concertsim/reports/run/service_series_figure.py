"""Per-service metrics over time (seed 7): each service's p95 server time, each consumer group's
p95 handling time, and the failures of both and each caller's retries, per bin of simulated time. Drawn from
``metrics.series``; a panel with nothing in it is left out, and so is the figure when every panel
would be."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concertsim.reports.plotting.base import figure_png, milliseconds_axis

__all__ = ["service_series_png", "FILE_NAME"]

FILE_NAME = "service-series.png"


def _last_active(series: dict[str, Any]) -> int:
    last = 0
    for group in ("services", "consumers"):
        for row in series[group].values():
            for index, count in enumerate(row["count"]):
                if count or row["failures"][index]:
                    last = max(last, index)
    return last


def service_series_png(series: dict[str, Any]) -> bytes | None:
    """The figure as PNG, or None when no request was served and no event handled."""
    width = series["bin_seconds"]
    panels = []
    if any(any(v is not None for v in row["p95_ms"]) for row in series["services"].values()):
        panels.append(("services", "p95_ms", "server time p95 (ms)"))
    if any(any(v is not None for v in row["p95_ms"]) for row in series["consumers"].values()):
        panels.append(("consumers", "p95_ms", "event handling p95 (ms)"))
    failing = {f"{group[:-1]} {name}": row["failures"] for group in ("services", "consumers")
               for name, row in series[group].items() if any(row["failures"])}
    failing.update({f"retries by {caller}": counts for caller, counts in series.get("retries", {}).items()
                    if any(counts)})
    if not panels and not failing:
        return None
    rows = len(panels) + (1 if failing else 0)
    figure = Figure(figsize=(9, 2.2 * rows + 0.6), layout="constrained")
    axes_list = figure.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    last = (_last_active(series) + 2) * width
    for axes, (group, key, label) in zip(axes_list, panels):
        for name, row in series[group].items():
            points = [(i * width, v) for i, v in enumerate(row[key]) if v is not None]
            if points:
                axes.plot(*zip(*points), linewidth=1.0, marker=".", markersize=2, label=name)
        milliseconds_axis(axes, "y")
        axes.set_ylabel(label)
        axes.legend(fontsize=7, ncol=3, loc="upper right", frameon=False)
    if failing:
        axes = axes_list[-1]
        for name, failures in failing.items():
            axes.step([i * width for i in range(len(failures))], failures, where="post", linewidth=1.0, label=name)
        axes.set_ylabel(f"failures and retries\nper {width} s")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
        axes.set_ylim(bottom=0)
        axes.legend(fontsize=7, ncol=3, loc="upper right", frameon=False)
    for axes in axes_list:
        axes.grid(axis="y", alpha=0.3)
        axes.set_xlim(0, max(last, 10))
    axes_list[0].set_title("Services and consumers over time")
    axes_list[-1].set_xlabel("simulated time (s)")
    return figure_png(figure)
