"""The timeline of a migration in motion (``migrate --plan``, or any run carrying a ``migration:``
block): over simulated time, panel by panel, the traffic each store received and the users moved,
the copy's lag behind each store's commit log, the client operations' latency, their errors (a
failure of the system or no answer) and, apart, their domain refusals (a business rule answering,
such as ``seat-unavailable``) by the store that served them, and the writes and reads the fences
refused and the writes a store took for a user it did not own; above them the plan, a row per step
(a verify with the mismatches it counted), and each step a line across every panel; the fault lanes
on top. A panel with nothing to show is left out. Drawn from ``summary.json``'s
``metrics.migration`` (:mod:`concertsim.metrics.migration_timeline`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, MaxNLocator

from concertsim.metrics.migration_timeline import NO_CALL
from concertsim.reports.plotting.base import count_axis, legend_outside, milliseconds_axis, time_panels, with_gaps
from concertsim.sim.run.result import RunResult

__all__ = ["MIGRATION_TIMELINE", "migration_timeline_figure"]

MIGRATION_TIMELINE = "migration-timeline.png"
_STEP_COLOURS = {"copy": "#4C72B0", "verify": "#55A868", "shift": "#8172B2", "cutover": "#C44E52",
                 "rollback": "#DD8452", "new relay": "#937860"}
_OLD_COLOUR, _NEW_COLOUR, _NONE_COLOUR = "#4C72B0", "#2CA02C", "#999999"


def _stores(timeline: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Each store's (label, colour), and those of the operations that called neither."""
    old, new = timeline["stores"]
    service = timeline["service"].capitalize()
    return {old: ("old store", _OLD_COLOUR), new: ("new store", _NEW_COLOUR),
            NO_CALL: (f"no {service} call", _NONE_COLOUR)}


def _directions(timeline: dict[str, Any]) -> dict[str, tuple[str, str]]:
    old, new = timeline["stores"]
    return {f"{old}->{new}": ("copy old → new", _OLD_COLOUR), f"{new}->{old}": ("copy new → old", _NEW_COLOUR)}


def _step_label(step: dict[str, Any]) -> str:
    label = f"{step['action']} {step['outcome']}"
    if "mismatches" in step:
        label += f" ({step['mismatches']} mismatches)"
    return label


def _plan(axes: Axes, steps: list[dict[str, Any]], end: float) -> None:
    """One row per step of the plan, top down: a mark where it happened (a bar over a ramp, from
    its start to its end) and what it came to, so that steps at one moment (a rollback and the
    steps it skipped) stay legible."""
    rows: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for step in steps:
        rows.setdefault((step["step"], step["action"]), []).append(step)
    for row, records in enumerate(rows.values()):
        first, last = records[0], records[-1]
        colour = _STEP_COLOURS.get(first["action"], "#777777")
        if last["at"] > first["at"]:
            axes.barh(row, last["at"] - first["at"], left=first["at"], height=0.5, color=colour, alpha=0.6)
        axes.scatter([r["at"] for r in records], [row] * len(records), s=18, color=colour, zorder=4,
                     marker="o" if last["outcome"] != "skipped" else "x")
        near_end = last["at"] > 0.75 * end
        axes.annotate(_step_label(last), (last["at"], row), xytext=(-5 if near_end else 5, 0),
                      textcoords="offset points", fontsize=7, va="center", ha="right" if near_end else "left",
                      color=colour)
    axes.set_ylim(len(rows) - 0.4, -0.6)
    axes.set_yticks([])
    axes.set_ylabel("plan", rotation=0, ha="right", va="center")


def _traffic(axes: Axes, timeline: dict[str, Any], end: float) -> None:
    """The share of the moving service's calls each store received per bin (stacked bars) and the
    share of users the plan had moved to the new store (a step line)."""
    width = timeline["bin_seconds"]
    calls = timeline["calls"]
    old_store, new_store = timeline["stores"]
    service = timeline["service"].capitalize()
    old, new = calls.get(old_store, []), calls.get(new_store, [])
    starts = [index * width for index in range(len(old))]
    totals = [o + n for o, n in zip(old, new, strict=True)]
    old_share = [100.0 * o / total if total else 0.0 for o, total in zip(old, totals, strict=True)]
    new_share = [100.0 * n / total if total else 0.0 for n, total in zip(new, totals, strict=True)]
    if any(old):
        axes.bar(starts, old_share, width=width, align="edge", color=_OLD_COLOUR, alpha=0.35,
                 linewidth=0, label=f"{service} calls to the old store (% per bin)")
    if any(new):
        axes.bar(starts, new_share, width=width, align="edge", bottom=old_share, color=_NEW_COLOUR,
                 alpha=0.35, linewidth=0, label=f"{service} calls to the new store (% per bin)")
    users = max(1, int(timeline["users"]))
    moved = timeline["moved"]
    xs = [0.0] + [at for at, _ in moved] + [end]
    ys = [0.0] + [100.0 * count / users for _, count in moved] + [100.0 * (moved[-1][1] if moved else 0) / users]
    axes.step(xs, ys, where="post", color="#333333", linewidth=1.6, label="users moved to the new store (%)")
    axes.set_ylabel("share (%)")
    axes.set_ylim(0, 102)
    axes.set_yticks([0, 50, 100])


def _lag(axes: Axes, timeline: dict[str, Any], end: float) -> None:
    for direction, series in timeline["lag"].items():
        if not any(behind for _, behind in series):
            continue
        label, colour = _directions(timeline).get(direction, (direction, "#777777"))
        xs = [at for at, _ in series] + [end]
        ys = [behind for _, behind in series] + [series[-1][1]]
        axes.step(xs, ys, where="post", color=colour, linewidth=1.2, label=f"{label}: commits behind")
    axes.set_ylabel("copy lag\n(commits)")
    count_axis(axes)
    axes.yaxis.set_major_locator(MaxNLocator(4, integer=True))


def _latency(axes: Axes, timeline: dict[str, Any]) -> None:
    width = timeline["bin_seconds"]
    for store, series in timeline["operations"].items():
        p95 = series["p95_ms"]
        if not any(value is not None for value in p95):
            continue
        label, colour = _stores(timeline).get(store, (store, "#777777"))
        centres = [(index + 0.5) * width for index in range(len(p95))]
        axes.plot(centres, with_gaps(p95), marker=".", markersize=4, linewidth=1.2, color=colour,
                  label=f"p95 latency, {label}")
    drawn = [value for series in timeline["operations"].values() for value in series["p95_ms"] if value]
    if drawn and max(drawn) > 10 * min(drawn):
        milliseconds_axis(axes, "y")
        axes.yaxis.set_major_locator(LogLocator(base=10, numticks=8))  # a short panel: decades only
    else:
        axes.set_ylim(0, max(drawn, default=1.0) * 1.15)
        axes.yaxis.set_major_locator(MaxNLocator(4))
    axes.set_ylabel("p95 latency\n(ms)")


PerBin = Callable[[dict[str, list[Any]]], list[int]]
"""What a counts panel draws of one store's operations: a count per bin."""


def _errors_of(series: dict[str, list[Any]]) -> list[int]:
    """Per bin, the operations the system failed or left unanswered (not the domain refusals)."""
    return [f + u for f, u in zip(series["failed"], series["unknown"], strict=True)]


def _refusals_of(series: dict[str, list[Any]]) -> list[int]:
    """Per bin, the operations a business rule refused (``seat-unavailable``, ``insufficient-points``)."""
    return list(series.get("refused", [0] * len(series["failed"])))


def _counts(axes: Axes, timeline: dict[str, Any], per_bin: PerBin, what: str, ylabel: str, alpha: float) -> None:
    """Stacked bars per bin of ``per_bin(series)`` for each store that has any, labelled ``what``."""
    width = timeline["bin_seconds"]
    bottom: list[int] | None = None
    for store, series in timeline["operations"].items():
        counts = per_bin(series)
        if not any(counts):
            continue
        label, colour = _stores(timeline).get(store, (store, "#777777"))
        starts = [index * width for index in range(len(counts))]
        axes.bar(starts, counts, width=width, align="edge", bottom=bottom, color=colour, alpha=alpha, linewidth=0,
                 label=f"{what}, {label}")
        bottom = counts if bottom is None else [b + c for b, c in zip(bottom, counts, strict=True)]
    axes.set_ylabel(ylabel)
    count_axis(axes)
    axes.yaxis.set_major_locator(MaxNLocator(4, integer=True))


def _errors(axes: Axes, timeline: dict[str, Any]) -> None:
    _counts(axes, timeline, _errors_of, "error (failed or no answer)", "errors\n(operations)", 0.8)


def _refusals(axes: Axes, timeline: dict[str, Any]) -> None:
    _counts(axes, timeline, _refusals_of, "refused by a business rule", "refusals\n(operations)", 0.4)


def _any(timeline: dict[str, Any], per_bin: PerBin) -> bool:
    return any(any(per_bin(series)) for series in timeline["operations"].values())


def _writes_lanes(timeline: dict[str, Any]) -> list[tuple[str, list[float], str]]:
    old, new = timeline["stores"]
    lanes = [("write refused by a fence", timeline["refused"], "#DD8452"),
             ("read refused by a fence", timeline.get("refused_reads", []), "#8172B2"),
             ("stray write (old store)", timeline["stray_writes"].get(old, []), "#C44E52"),
             ("stray write (new store)", timeline["stray_writes"].get(new, []), "#8C1C13")]
    return [(f"{label} ({len(times)})", times, colour) for label, times, colour in lanes if times]


def _writes(axes: Axes, lanes: list[tuple[str, list[float], str]]) -> None:
    for lane, (_, times, colour) in enumerate(lanes):
        axes.scatter(times, [lane] * len(times), s=40, color=colour, marker="|")
    axes.set_yticks(range(len(lanes)), [label for label, _, _ in lanes], fontsize=7)
    axes.set_ylim(-0.7, len(lanes) - 0.3)
    axes.set_ylabel("fences", rotation=0, ha="right", va="center")


def migration_timeline_figure(result: RunResult, timeline: dict[str, Any]) -> Figure:
    """The plan over the run's time (fault lanes above, as in every run figure): the share of the
    moving service's traffic per store and the users moved; the copy's lag (if a commit ever waited); the p95 latency of the
    client operations by the store their last call to the service went to (if any ended); their errors (if
    any); their domain refusals (if any), apart from the errors; the writes and reads the fences refused
    and the stray writes (if any). Above them the plan, a row per step; each step that was not
    skipped is a line on every panel."""
    end = max(result.phases.ended_at, 1.0)
    steps = [*timeline["steps"], *({"at": at, "step": -1, "action": "new relay", "outcome": "started"}
                                   for at in timeline.get("relay_started", ()))]
    panels: list[tuple[float, Any]] = [(0.25 + 0.17 * len({(step["step"], step["action"]) for step in steps}),
                                        lambda axes: _plan(axes, steps, end)),
                                       (1.8, lambda axes: _traffic(axes, timeline, end))]
    if any(behind for series in timeline["lag"].values() for _, behind in series):
        panels.append((1.2, lambda axes: _lag(axes, timeline, end)))
    if any(value is not None for series in timeline["operations"].values() for value in series["p95_ms"]):
        panels.append((1.5, lambda axes: _latency(axes, timeline)))
    if _any(timeline, _errors_of):
        panels.append((1.1, lambda axes: _errors(axes, timeline)))
    if _any(timeline, _refusals_of):
        panels.append((1.1, lambda axes: _refusals(axes, timeline)))
    lanes = _writes_lanes(timeline)
    if lanes:
        panels.append((0.3 + 0.25 * len(lanes), lambda axes: _writes(axes, lanes)))
    title = (f"Migration of {timeline['service']}: capture {timeline['capture']}, acks {timeline['acks']}, "
             f"verify {timeline['verify']}, catch_up {timeline['catch_up']}, fence {timeline['fence']}")
    figure, axes_list = time_panels(result, title, [height for height, _ in panels])
    for axes, (_, draw) in zip(axes_list, panels, strict=True):
        draw(axes)
        for step in steps:
            if step["outcome"] != "skipped":
                axes.axvline(step["at"], color=_STEP_COLOURS.get(step["action"], "#777777"), linewidth=0.9,
                             alpha=0.6, zorder=3)
    legend_outside(figure, *axes_list, columns=3)
    return figure
