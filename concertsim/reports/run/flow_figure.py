"""The message-flow figure: one saga drawn as a sequence diagram, from the same steps as its
mermaid source (``saga_steps``), so the report shows a drawing wherever it has a diagram. Routine
steps (token and seat checks, commits that raise nothing) are left out of the drawing; the title
says how many.

Lifelines run down from each party; time flows down, one step a row, the simulated time of each
row on the left. Calls are solid blue arrows, replies dashed blue, events purple; a message that
never arrived is red and ends in a cross; a reply that came after its caller gave up is dashed red.
A timeout is no arrow at all: an orange wait on the caller's lifeline, from the call to the moment
it gave up. Faults are red boxes with a red bar over the lifelines of the parties they struck, and
over no other; failures red text. A replicated service's replicas are lifelines of their own
(``concert#2``). The title gives the saga's span (``saga_span``, the one its text gives too), and
the last row is always the saga's last step.
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from concertsim.reports.plotting.base import FAULT_COLOUR, Omitted
from concertsim.reports.run.saga import Saga
from concertsim.reports.run.saga_steps import ROUTINE, Step, fit_steps, lane_order, saga_span, saga_steps
from concertsim.scenarios.schema import Scenario

__all__ = ["message_flow", "MAX_ROWS", "STYLE"]

MAX_ROWS = 70
ROW_INCHES = 0.27
CALL, EVENT, TIMEOUT, MUTED = "#1f77b4", "#9467bd", "#e07b00", "#666666"
STYLE = {
    "call": (CALL, "-", "-|>"),
    "reply": (CALL, "--", "-|>"),
    "event": (EVENT, "-", "->"),
    "late_reply": (FAULT_COLOUR, "--", "-|>"),
    "lost": (FAULT_COLOUR, "-", "-"),
}
"""Per message kind: colour, line style, arrow head."""
_NOTE_COLOUR = {"fault": FAULT_COLOUR, "timeout": TIMEOUT, "failure": FAULT_COLOUR, "skipped": MUTED,
                "note": MUTED}
_LOST_REACH = 0.62
"""How far towards its target a lost message gets before its cross."""


def _legend_handles() -> list[Line2D]:
    def line(colour: str, style: str, label: str, marker: str | None = None) -> Line2D:
        return Line2D([], [], color=colour, linestyle=style, marker=marker, label=label)

    return [
        line(CALL, "-", "call"),
        line(CALL, "--", "reply"),
        line(EVENT, "-", "event published or delivered"),
        line(FAULT_COLOUR, "-", "message lost", "x"),
        line(FAULT_COLOUR, "--", "reply after the caller gave up"),
        line(TIMEOUT, ":", "caller waiting, then timed out"),
        Line2D([], [], color=FAULT_COLOUR, linewidth=5, alpha=0.35, label="fault, over the parties it struck"),
    ]


def message_flow(saga: Saga, scenario: Scenario | None = None, *, max_rows: int = MAX_ROWS) -> Figure | Omitted:
    """The saga as a drawing (``scenario``: the run's, for the words of its faults); left out
    when the saga has no step to draw."""
    every = saga_steps(saga, scenario)
    worth = [step for step in every if step.level < ROUTINE]
    steps, also_dropped, cut = fit_steps(worth, max_rows)
    dropped = len(every) - len(worth) + also_dropped
    if not steps:
        return Omitted(f"no messages recorded for {saga.reservation_id}")
    lanes = sorted({party for step in steps for party in step.parties}, key=lane_order)
    column = {party: index for index, party in enumerate(lanes)}
    rows = len(steps)
    width = max(7.0, 1.45 * len(lanes) + 2.2)
    figure = Figure(figsize=(width, ROW_INCHES * rows + 2.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for x in column.values():
        axes.plot([x, x], [-0.6, rows - 0.4], color="#c8c8c8", linewidth=1, zorder=0)
    calls = {step.call: row for row, step in enumerate(steps) if step.kind in ("call", "lost") and step.call}
    for row, step in enumerate(steps):
        if step.is_message:
            _draw_message(axes, step, row, column)
        else:
            _draw_note(axes, step, row, column, calls.get(step.call) if step.kind == "timeout" else None)
    for row, step in enumerate(steps):
        if step.kind == "fault":
            for party in step.parties:
                x = column[party]
                axes.plot([x - 0.35, x + 0.35], [row, row], color=FAULT_COLOUR, linewidth=5, alpha=0.35,
                          solid_capstyle="butt", zorder=1)
    axes.set_xticks(range(len(lanes)), lanes, fontsize=9)
    axes.xaxis.tick_top()
    axes.tick_params(axis="x", length=0)
    axes.set_yticks(range(rows), [f"{step.at:.3f} s" for step in steps], fontsize=7)
    axes.tick_params(axis="y", length=2)
    axes.set_ylim(rows - 0.4, -0.7)
    axes.set_xlim(-0.75, len(lanes) - 0.25)
    for spine in ("top", "right", "bottom"):
        axes.spines[spine].set_visible(False)
    axes.set_ylabel("simulated time, one step a row")
    start, end = saga_span(saga)
    title = f"Message flow of {saga.reservation_id}, {start:.2f} s to {end:.2f} s"
    omitted = []
    if dropped:
        omitted.append(f"{dropped} routine steps (token and seat checks, commits) left out")
    if cut:
        omitted.append(f"{cut} steps before the last left out")
    axes.set_title(title + (f" ({'; '.join(omitted)})" if omitted else ""), fontsize=10, pad=20)
    figure.legend(handles=_legend_handles(), fontsize=8, loc="outside lower center", ncol=4, frameon=False)
    _keep_inside(figure, axes)
    return figure


def _draw_message(axes, step: Step, row: int, column: dict[str, int]) -> None:
    colour, line, head = STYLE[step.kind]
    start, end = column[step.source], column[step.target]
    reach = start + (end - start) * (_LOST_REACH if step.kind == "lost" else 1.0)
    style = "--" if step.dashed else line
    axes.annotate("", xy=(reach, row), xytext=(start, row),
                  arrowprops={"arrowstyle": head, "color": colour, "linestyle": style, "linewidth": 1.2,
                              "shrinkA": 0, "shrinkB": 0})
    if step.kind == "lost":
        axes.plot(reach, row, marker="x", color=colour, markersize=8, markeredgewidth=2)
    axes.text((start + reach) / 2, row - 0.12, step.text, fontsize=7, ha="center", va="bottom", color=colour)


def _draw_note(axes, step: Step, row: int, column: dict[str, int], waited_from: int | None) -> None:
    colour = _NOTE_COLOUR[step.kind]
    low, high = column[step.parties[0]], column[step.parties[-1]]
    if step.kind == "timeout" and waited_from is not None:
        axes.plot([low, low], [waited_from, row], color=TIMEOUT, linestyle=":", linewidth=2.5, zorder=1)
    frame = {"fault": ("#fde0dd", FAULT_COLOUR), "timeout": ("white", TIMEOUT)}.get(step.kind, ("white", "none"))
    weight = "bold" if step.kind in ("fault", "timeout", "failure") else "normal"
    axes.text((low + high) / 2, row, step.text, fontsize=7, ha="center", va="center", color=colour,
              fontweight=weight, zorder=3,
              bbox={"boxstyle": "round,pad=0.2", "facecolor": frame[0], "edgecolor": frame[1], "linewidth": 0.8})


def _keep_inside(figure: Figure, axes) -> None:
    """Move any text that would stick out of the plot on the left or right back inside it, so it
    covers neither the time labels nor the figure's edge."""
    renderer = figure.canvas.get_renderer()
    figure.draw_without_rendering()
    box = axes.get_window_extent(renderer)
    to_data = axes.transData.inverted()
    for text in axes.texts:
        extent = text.get_window_extent(renderer)
        y = text.get_position()[1]
        if extent.x0 < box.x0:
            text.set_horizontalalignment("left")
            text.set_position((to_data.transform((box.x0 + 2, 0))[0], y))
        elif extent.x1 > box.x1:
            text.set_horizontalalignment("right")
            text.set_position((to_data.transform((box.x1 - 2, 0))[0], y))
