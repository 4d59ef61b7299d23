"""The timeline of a migration in motion (``migrate --plan``): the share of users on the new
store over simulated time, each step of the plan as a labelled line, the copy's batches and the
writes the fences refused or a store took for a user it did not own. Drawn from
``summary.json``'s ``metrics.migration`` (:mod:`concertsim.metrics.migration_timeline`)."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from concertsim.reports.plotting.base import FAULT_COLOUR

__all__ = ["MIGRATION_TIMELINE", "migration_timeline_figure"]

MIGRATION_TIMELINE = "migration-timeline.png"
_STEP_COLOURS = {"copy": "#4C72B0", "verify": "#55A868", "shift": "#8172B2", "cutover": "#C44E52",
                 "rollback": "#DD8452"}


def migration_timeline_figure(timeline: dict[str, Any], faults: list[dict[str, Any]], end: float) -> Figure:
    """Users on the new store (%) against time, the plan's steps, the copy's batches applied (by
    direction) and the refused and stray writes, with the fault windows shaded."""
    figure = Figure(figsize=(9, 4.8))
    share, marks = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    users = max(1, int(timeline["users"]))
    moved = timeline["moved"]
    xs = [0.0] + [at for at, _ in moved] + [end]
    ys = [0.0] + [100.0 * count / users for _, count in moved] + [100.0 * (moved[-1][1] if moved else 0) / users]
    share.step(xs, ys, where="post", color="#333333", linewidth=1.6, label="users on the new store")
    share.set_ylabel("users on the new store (%)")
    share.set_ylim(-3, 103)
    for step in timeline["steps"]:
        colour = _STEP_COLOURS.get(step["action"], "#777777")
        for axes in (share, marks):
            axes.axvline(step["at"], color=colour, linewidth=1, linestyle="--" if step["outcome"] == "skipped" else "-")
        share.annotate(f"{step['action']} {step['outcome']}", (step["at"], 101), rotation=90, fontsize=7,
                       va="top", ha="right", color=colour)
    for fault in faults:
        start = float(fault.get("at", 0.0))
        stop = start + float(fault["duration"]) if fault.get("duration") is not None else end
        for axes in (share, marks):
            axes.axvspan(start, stop, color=FAULT_COLOUR, alpha=0.12, linewidth=0)
    lanes = [("copied old→new", [at for at, _ in timeline["copied"].get("point->point_new", [])], "#4C72B0"),
             ("copied new→old", [at for at, _ in timeline["copied"].get("point_new->point", [])], "#55A868"),
             ("refused by a fence", timeline["refused"], "#DD8452"),
             ("stray write (old)", timeline["stray_writes"].get("point", []), "#C44E52"),
             ("stray write (new)", timeline["stray_writes"].get("point_new", []), "#8C1C13")]
    for lane, (label, times, colour) in enumerate(lanes):
        marks.scatter(times, [lane] * len(times), s=8, color=colour, marker="|")
    marks.set_yticks(range(len(lanes)), [label for label, _, _ in lanes], fontsize=7)
    marks.set_ylim(-0.7, len(lanes) - 0.3)
    marks.set_xlabel("simulated time (s)")
    marks.set_xlim(0, end)
    share.set_title(f"Migration of {timeline['service']}: capture {timeline['capture']}, acks {timeline['acks']}, "
                    f"verify {timeline['verify']}, catch_up {timeline['catch_up']}, fence {timeline['fence']}",
                    fontsize=9)
    figure.tight_layout()
    return figure
