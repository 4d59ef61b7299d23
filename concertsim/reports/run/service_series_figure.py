"""Per-service metrics over time (seed 7): each service's p95 server time, each consumer group's
p95 handling time, and the failures of both and each caller's retries, per bin of simulated time. Drawn from
``metrics.series`` over the whole run, with its fault lanes and heal line; a p95 line breaks over
a bin with nothing served or handled instead of joining its neighbours across it. A panel with
nothing in it is left out, and so is the figure when every panel would be."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from concertsim.reports.plotting.base import figure_png, milliseconds_axis, time_panels, with_gaps
from concertsim.sim.run.result import RunResult

__all__ = ["service_series_figure", "service_series_png", "panels_drawn", "FILE_NAME"]

FILE_NAME = "service-series.png"


def _failing(series: dict[str, Any]) -> dict[str, list[int]]:
    failing = {f"{group[:-1]} {name}": row["failures"] for group in ("services", "consumers")
               for name, row in series[group].items() if any(row["failures"])}
    failing.update({f"retries by {caller}": counts for caller, counts in series.get("retries", {}).items()
                    if any(counts)})
    return failing


def panels_drawn(series: dict[str, Any]) -> list[str]:
    """The panels the figure has, by the key of what they draw: ``services`` (server time p95),
    ``consumers`` (handling time p95), ``failures`` (failures and retries); each only when it has
    something to show."""
    panels = [group for group in ("services", "consumers")
              if any(any(v is not None for v in row["p95_ms"]) for row in series[group].values())]
    return panels + (["failures"] if _failing(series) else [])


def service_series_figure(series: dict[str, Any], result: RunResult) -> Figure | None:
    """The figure, or None when no request was served and no event handled."""
    width = series["bin_seconds"]
    drawn = panels_drawn(series)
    if not drawn:
        return None
    figure, axes_list = time_panels(result, "Services and consumers over time", [2.2] * len(drawn))
    labels = {"services": "server time p95 (ms)", "consumers": "event handling p95 (ms)"}
    for axes, panel in zip(axes_list, drawn, strict=True):
        if panel == "failures":
            for name, failures in _failing(series).items():
                axes.step([i * width for i in range(len(failures))], failures, where="post", linewidth=1.0,
                          label=name)
            axes.set_ylabel(f"failures and retries\nper {width} s")
            axes.yaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
            axes.set_ylim(bottom=0)
        else:
            for name, row in series[panel].items():
                if any(v is not None for v in row["p95_ms"]):
                    axes.plot([i * width for i in range(len(row["p95_ms"]))], with_gaps(row["p95_ms"]),
                              linewidth=1.0, marker=".", markersize=2, label=name)
            milliseconds_axis(axes, "y")
            axes.set_ylabel(labels[panel])
        axes.legend(fontsize=7, ncol=3, loc="upper right", frameon=False)
        axes.grid(axis="y", alpha=0.3)
    return figure


def service_series_png(series: dict[str, Any], result: RunResult) -> bytes | None:
    """:func:`service_series_figure` as PNG, or None when there is nothing to draw."""
    figure = service_series_figure(series, result)
    return None if figure is None else figure_png(figure)
