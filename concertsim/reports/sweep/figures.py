"""The figures of a sweep report (matplotlib, rendered to PNG without global pyplot state).

With a matrix: one figure per swept key, a small panel per headline measure, the measure's mean
over the seeds (error bars: its 95% percentile bootstrap interval) against the key's values, one line per
combination of the other keys' values. A numeric key's values are joined by lines; a categorical
key's (a design choice) are points side by side, never joined, since nothing lies between them.
Without a matrix: the measures' spread over the seeds (each seed a dot, the mean with its interval
beside them). A measure that is the same in every run, has no value in any, or echoes a swept
input (users arrived, when ``workload.users`` is swept: :data:`ECHOES`) gets no panel; a figure
without a panel is not drawn. Every value axis starts at zero (all headline measures are zero or
more), so a difference of a fraction of a millisecond never looks like a cliff.
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from concertsim.metrics import MEASURES  # noqa: E402
from concertsim.reports.plotting.base import RenderedFigure, figure_png  # noqa: E402
from concertsim.sweep.aggregate import CellSummary, GridResult  # noqa: E402
from concertsim.sweep.grid import Axis  # noqa: E402

__all__ = ["render_sweep_figures", "varying_measures", "echoed_measures", "measure_title", "measure_unit",
           "short_keys", "figure_name", "ECHOES"]

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
COLUMNS = 3
ECHOES: dict[str, str] = {"funnel_arrived": "workload.users"}
"""Measures that repeat a scenario input, by the input: every user of the workload arrives, so
"users arrived" against ``workload.users`` draws the swept values back."""


def measure_unit(name: str) -> str:
    """The unit a measure is counted in, for an axis label."""
    if name.endswith("_ms"):
        return "ms"
    if name.endswith("_s"):
        return "s"
    if name == "confirmed_per_minute":
        return "bookings per minute"
    if name == "messages_per_booking":
        return "messages per booking"
    if name == "funnel_unsold_seats":
        return "seats"
    if name.startswith("funnel_"):
        return "users"
    return ""


def is_count(name: str) -> bool:
    """Whether a measure counts things (its axis gets whole-number ticks)."""
    return name.startswith("funnel_")


def measure_title(name: str) -> str:
    """The measure's description without its unit, capitalised: ``Client latency p95, every
    operation``."""
    text = re.sub(r" \((ms|s)\)", "", MEASURES.get(name, name))
    return text[:1].upper() + text[1:]


def varying_measures(result: GridResult) -> list[str]:
    """The headline measures with at least two different values over all the runs."""
    shown = []
    for name in MEASURES:
        values = {v for cell in result.cells for v in cell.values(name) if math.isfinite(v)}
        if len(values) >= 2:
            shown.append(name)
    return shown


def echoed_measures(result: GridResult) -> list[str]:
    """The measures that only repeat a swept input (:data:`ECHOES`), left out of the figures."""
    swept = {axis.key for axis in result.plan.axes if len(axis.values) > 1}
    return [name for name, key in ECHOES.items() if key in swept]


def short_keys(keys: Sequence[str]) -> dict[str, str]:
    """Each dotted key by its last part (``design.publish`` → ``publish``) where that is unique
    among ``keys``, else in full."""
    last = [key.rsplit(".", 1)[-1] for key in keys]
    return {key: part if last.count(part) == 1 else key for key, part in zip(keys, last, strict=True)}


def figure_name(key: str) -> str:
    """The PNG's name of the figure against ``key``: ``measures-vs-design-publish``."""
    return "measures-vs-" + (re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-").lower() or "key")


def _grid(count: int, panel_height: float = 2.8) -> tuple[Figure, list[Axes]]:
    columns = min(COLUMNS, count)
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(4.1 * columns, panel_height * rows + 0.9), layout="constrained")
    axes = [figure.add_subplot(rows, columns, i + 1) for i in range(count)]
    return figure, axes


def _label_panel(axes: Axes, name: str) -> None:
    """Title, unit and ticks of a measure's panel. Every headline measure is zero or more, so the
    axis starts at zero: a difference shows in proportion to the values, never magnified."""
    top = axes.get_ylim()[1]
    axes.set_ylim(0, top * 1.06 if top > 0 else 1)  # room above the highest error bar's cap
    axes.set_title("\n".join(textwrap.wrap(measure_title(name), 38)), fontsize=9.5)
    axes.set_ylabel(measure_unit(name), fontsize=8.5)
    axes.tick_params(labelsize=8)
    axes.grid(True, axis="y", alpha=0.3)
    if is_count(name):
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _against(result: GridResult, axis: Axis, others: list[Axis], measures: list[str]) -> Figure:
    """Each measure's mean (with its interval) against ``axis``'s values, a line per combination
    of the ``others``' values."""
    names = short_keys([a.key for a in result.plan.axes])
    numeric = _numeric(axis.values)
    positions = [float(v) for v in axis.values] if numeric else list(range(len(axis.values)))
    span = (max(positions) - min(positions)) or 1.0
    combinations = list(itertools.product(*(range(len(a.values)) for a in others)))
    by_values = {tuple(sorted((k, str(v)) for k, v in c.cell.values.items())): c for c in result.cells}
    figure, panels = _grid(len(measures))
    handles: list[Any] = []
    labels: list[str] = []
    for panel, name in zip(panels, measures, strict=True):
        for line, combination in enumerate(combinations):
            fixed = {a.key: a.values[i] for a, i in zip(others, combination, strict=True)}
            offset = (line - (len(combinations) - 1) / 2) * (0.06 * span if numeric else 0.07)
            xs, means, below, above = [], [], [], []
            for position, value in zip(positions, axis.values, strict=True):
                key = tuple(sorted((k, str(v)) for k, v in {**fixed, axis.key: value}.items()))
                cell: CellSummary | None = by_values.get(key)
                interval = cell.measures.get(name) if cell is not None else None
                xs.append(position + offset)
                if interval is None:
                    means.append(math.nan)
                    below.append(0.0)
                    above.append(0.0)
                else:
                    means.append(interval.estimate)
                    below.append(interval.estimate - interval.low)
                    above.append(interval.high - interval.estimate)
            drawn = panel.errorbar(xs, means, yerr=[below, above], marker="o", markersize=4, capsize=3,
                                   linewidth=1.2, linestyle="-" if numeric else "none",
                                   color=COLOURS[line % len(COLOURS)])
            if panel is panels[0]:
                handles.append(drawn)
                labels.append(", ".join(f"{names[k]}={_text(others, k, v)}" for k, v in fixed.items()))
        panel.set_xticks(positions, list(axis.texts), fontsize=8)
        margin = 0.12 * span if numeric else 0.4
        panel.set_xlim(min(positions) - margin, max(positions) + margin)
        panel.set_xlabel(names[axis.key], fontsize=8.5)
        _label_panel(panel, name)
    seeds = len(result.plan.seeds)
    figure.suptitle(f"Headline measures against {axis.key}: mean over {seeds} seeds, error bars 95% interval",
                    fontsize=11)
    if others:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), fontsize=9,
                      frameon=False)
    return figure


def _text(axes: Sequence[Axis], key: str, value: Any) -> str:
    axis = next(a for a in axes if a.key == key)
    return axis.texts[axis.values.index(value)]


def _over_seeds(cell: CellSummary, measures: list[str]) -> Figure:
    """Each measure's value per seed (dots) and its mean with the 95% interval."""
    figure, panels = _grid(len(measures), panel_height=2.5)
    for panel, name in zip(panels, measures, strict=True):
        values = sorted(cell.values(name))
        spread = [(-1) ** i * 0.12 * (i // 2 + 1) / max(1, len(values) // 2 + 1) for i in range(len(values))]
        panel.scatter(spread, values, s=16, color=COLOURS[0], alpha=0.8, label="one seed")
        interval = cell.measures.get(name)
        if interval is not None:
            panel.errorbar([0.55], [interval.estimate],
                           yerr=[[interval.estimate - interval.low], [interval.high - interval.estimate]],
                           marker="o", markersize=5, capsize=4, color="#222222", label="mean, 95% interval")
        panel.set_xticks([0, 0.55], [f"{len(values)} seeds", "mean"], fontsize=8)
        panel.set_xlim(-0.45, 0.9)
        _label_panel(panel, name)
    figure.suptitle(f"Headline measures over {len(cell.runs)} seeds: each seed a dot, the mean with its 95% interval",
                    fontsize=11)
    return figure


def render_sweep_figures(result: GridResult) -> list[RenderedFigure]:
    """The sweep report's figures as PNG bytes with a title and a caption (none when no measure
    varies, or no swept key has two values)."""
    echoed = echoed_measures(result)
    measures = [name for name in varying_measures(result) if name not in echoed]
    if not measures or not result.cells:
        return []
    rendered = []
    seeds = len(result.plan.seeds)
    if not result.plan.swept:
        figure = _over_seeds(result.cells[0], measures)
        rendered.append(RenderedFigure(
            "measures-over-seeds", "Headline measures over the seeds",
            f"Each headline measure in each of the {seeds} seeds, and its mean with the 95% percentile bootstrap "
            "interval; "
            "measures that were the same in every run are left out.", figure_png(figure)))
        return rendered
    for axis in result.plan.axes:
        if len(axis.values) < 2:
            continue
        others = [a for a in result.plan.axes if a is not axis]
        figure = _against(result, axis, others, measures)
        kind = "a line" if _numeric(axis.values) else "a colour (points, not joined: the values are choices)"
        lines = f"{kind} per value of " + ", ".join(a.key for a in others) + "; " if others else ""
        repeated = "".join(f" {MEASURES[name].capitalize()} is left out: it repeats {ECHOES[name]}, swept."
                           for name in echoed)
        rendered.append(RenderedFigure(
            figure_name(axis.key), f"Headline measures against {axis.key}",
            f"Each measure's mean over the {seeds} seeds of a cell against {axis.key}, error bars its 95% "
            f"percentile bootstrap interval, each axis from zero; {lines}measures that were the same in every "
            f"run are left out.{repeated}",
            figure_png(figure)))
    return rendered
