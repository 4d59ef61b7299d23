"""What every run figure shares: the rendered form, count and latency axes a reader can trust,
and the lanes that show when each fault was active above any plot over simulated time.

Conventions: counts get integer ticks; latency is in plain milliseconds (no offset, no powers of
ten); legends sit outside the data; fault windows are drawn in their own lanes, one lane per party
struck, labelled on the axis, so no fault label is rotated over the data or over another label.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from concertsim.sim.run.result import RunResult  # noqa: E402

__all__ = [
    "DPI", "FAULT_COLOUR", "RenderedFigure", "Omitted", "figure_png", "count_axis", "milliseconds_axis",
    "time_figure", "legend_outside", "fault_lane_label",
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


def time_figure(
    result: RunResult, title: str, height: float, *, width: float = 9.0, until: float | None = None
) -> tuple[Figure, Axes]:
    """A figure titled ``title`` over simulated time (to ``until``, else the end of the run): the
    main axes of ``height`` inches and, above it, one lane per fault kind and party struck (if the
    run had faults), sharing the time axis. Fault windows are shaded on the main axes too, and the
    heal is a dotted line."""
    lanes = _fault_lanes(result)
    lane_height = FAULT_LANE_HEIGHT * len(lanes) + (0.25 if lanes else 0)
    figure = Figure(figsize=(width, height + lane_height), layout="constrained")
    if lanes:
        top, axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [lane_height, height]})
        for row, (label, spans) in enumerate(lanes.items()):
            top.broken_barh([(start, max(width_s, result.phases.ended_at / 400)) for start, width_s in spans],
                            (row - 0.35, 0.7), color=FAULT_COLOUR, alpha=0.75)
        top.set_yticks(range(len(lanes)), list(lanes), fontsize=8)
        top.set_ylim(len(lanes) - 0.5, -0.5)
        top.tick_params(axis="x", bottom=False, labelbottom=False)
        top.set_ylabel("faults", color=FAULT_COLOUR, rotation=0, ha="right", va="center", fontsize=8)
        top.set_title(title)
        for spine in ("top", "right"):
            top.spines[spine].set_visible(False)
        for spans in lanes.values():
            for start, width_s in spans:
                axes.axvspan(start, start + width_s, color=FAULT_COLOUR, alpha=0.08, linewidth=0)
    else:
        axes = figure.add_subplot()
        axes.set_title(title)
    end = max(result.phases.ended_at if until is None else until, 1.0)
    if result.phases.heal_at <= end:
        axes.axvline(result.phases.heal_at, color=HEAL_COLOUR, linestyle=":", linewidth=1, label="heal")
    axes.set_xlim(0, end)
    axes.set_xlabel("simulated time (s)")
    return figure, axes
