"""What every run figure shares: the rendered form, count and latency axes a reader can trust,
and the lanes that show when each fault was active above any plot over simulated time.

Conventions: counts get integer ticks; latency is in plain milliseconds (no offset, no powers of
ten); legends sit outside the data; fault windows are drawn in their own lanes, one lane per party
struck, labelled on the axis, so no fault label is rotated over the data or over another label.
Every plot over simulated time (:func:`time_panels`) spans the whole run, from 0 to its end, so the
figures of one run line up; a series is broken, never bridged, over a bin with no data
(:func:`with_gaps`).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from concertsim.sim.run.result import RunResult  # noqa: E402

__all__ = [
    "DPI", "FAULT_COLOUR", "RenderedFigure", "Omitted", "figure_png", "count_axis", "milliseconds_axis",
    "time_figure", "time_panels", "run_span", "with_gaps", "legend_outside", "fault_lane_label",
]

DPI = 110
FAULT_COLOUR = "#d62728"
HEAL_COLOUR = "#555555"
FAULT_LANE_HEIGHT = 0.28
"""Inches per fault lane."""


@dataclass(frozen=True)
class RenderedFigure:
    name: str
    title: str
    caption: str
    png: bytes


@dataclass(frozen=True)
class Omitted:
    """A figure left out because it would show nothing: ``reason`` says why, in a few words."""

    reason: str


def figure_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def count_axis(axes: Axes, which: str = "y") -> None:
    """Integer ticks on an axis of counts, from zero."""
    axis = axes.yaxis if which == "y" else axes.xaxis
    axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=2))
    if which == "y":
        axes.set_ylim(bottom=0)
        axes.set_ylim(top=max(axes.get_ylim()[1], 1))
    else:
        axes.set_xlim(left=0)


def _plain_number(value: float, _position: object = None) -> str:
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def milliseconds_axis(axes: Axes, which: str = "x") -> None:
    """A log-scaled axis of milliseconds labelled 1, 2, 5, 10, 20, 50, ... in plain numbers."""
    axis = axes.xaxis if which == "x" else axes.yaxis
    if which == "x":
        axes.set_xscale("log")
    else:
        axes.set_yscale("log")
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(_plain_number))
    axis.set_minor_formatter(NullFormatter())


def legend_outside(figure: Figure, *axes: Axes, columns: int = 3) -> None:
    """One legend of every labelled line of ``axes``, below the plots in up to ``columns``
    columns, so it covers no data."""
    handles: list = []
    labels: list[str] = []
    for each in axes:
        found, named = each.get_legend_handles_labels()
        handles += found
        labels += named
    order = sorted(range(len(labels)), key=lambda i: labels[i] == "heal")  # the heal line last
    handles, labels = [handles[i] for i in order], [labels[i] for i in order]
    if handles:
        figure.legend(handles, labels, fontsize=8, loc="outside lower center", frameon=False,
                      ncol=min(columns, len(handles)))


def fault_lane_label(kind: str, target: str, message_type: str | None = None) -> str:
    """A fault lane's name: the fault kind and the party or channel it struck."""
    label = f"{kind} {target.replace('->', '→').replace('|', '↔')}"
    return f"{label} ({message_type})" if message_type else label


def _fault_lanes(result: RunResult) -> dict[str, list[tuple[float, float]]]:
    """The fault windows, per lane (kind and target struck), in order of first appearance."""
    faults = result.scenario.faults
    lanes: dict[str, list[tuple[float, float]]] = {}
    for window in result.fault_windows:
        index = window.get("index")
        fault = faults[index] if isinstance(index, int) and 0 <= index < len(faults) else None
        message_type = fault.match.message_type if fault is not None and fault.match is not None else None
        label = fault_lane_label(window["kind"], window["target"], message_type)
        end = window["end"] if window["end"] is not None else result.phases.heal_at
        lanes.setdefault(label, []).append((window["start"], max(end - window["start"], 0.0)))
    return lanes


def run_span(result: RunResult) -> float:
    """The end of the time axis every plot over simulated time shares: the end of the run."""
    return max(result.phases.ended_at, 1.0)


def with_gaps(values: list[float | None]) -> list[float]:
    """``values`` with each missing value (None) as NaN, so a line breaks over a bin without data
    instead of joining its neighbours across it."""
    return [math.nan if value is None else value for value in values]


def time_panels(
    result: RunResult, title: str, heights: list[float], *, width: float = 9.0
) -> tuple[Figure, list[Axes]]:
    """A figure titled ``title`` over the run's simulated time (0 to :func:`run_span`): one panel
    per entry of ``heights`` (inches), sharing the time axis, and above them one lane per fault
    kind and party struck (if the run had faults). Fault windows are shaded on every panel, the
    heal is a dotted line on each (labelled "heal" on the first), and only the last panel is
    labelled with the time."""
    lanes = _fault_lanes(result)
    lane_height = FAULT_LANE_HEIGHT * len(lanes) + (0.25 if lanes else 0)
    figure = Figure(figsize=(width, sum(heights) + lane_height), layout="constrained")
    ratios = ([lane_height] if lanes else []) + list(heights)
    grid = figure.subplots(len(ratios), 1, sharex=True, squeeze=False, gridspec_kw={"height_ratios": ratios})[:, 0]
    panels = list(grid[1:] if lanes else grid)
    end = run_span(result)
    if lanes:
        top = grid[0]
        for row, (label, spans) in enumerate(lanes.items()):
            top.broken_barh([(start, max(width_s, end / 400)) for start, width_s in spans],
                            (row - 0.35, 0.7), color=FAULT_COLOUR, alpha=0.75)
        top.set_yticks(range(len(lanes)), list(lanes), fontsize=8)
        top.set_ylim(len(lanes) - 0.5, -0.5)
        top.tick_params(axis="x", bottom=False, labelbottom=False)
        top.set_ylabel("faults", color=FAULT_COLOUR, rotation=0, ha="right", va="center", fontsize=8)
        top.set_title(title)
        for spine in ("top", "right"):
            top.spines[spine].set_visible(False)
    else:
        panels[0].set_title(title)
    for index, axes in enumerate(panels):
        for spans in lanes.values():
            for start, width_s in spans:
                axes.axvspan(start, start + width_s, color=FAULT_COLOUR, alpha=0.08, linewidth=0)
        if result.phases.heal_at <= end:
            axes.axvline(result.phases.heal_at, color=HEAL_COLOUR, linestyle=":", linewidth=1, zorder=4,
                         label="heal" if index == 0 else None)
        if index < len(panels) - 1:
            axes.tick_params(axis="x", labelbottom=False)
    for axes in grid:
        axes.set_xlim(0, end)
    panels[-1].set_xlabel("simulated time (s)")
    return figure, panels


def time_figure(result: RunResult, title: str, height: float, *, width: float = 9.0) -> tuple[Figure, Axes]:
    """:func:`time_panels` with one panel of ``height`` inches."""
    figure, (axes,) = time_panels(result, title, [height], width=width)
    return figure, axes
