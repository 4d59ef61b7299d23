"""The figures of a run report, each drawn only when the run gives it something to show.

Every figure is a function from the run to a matplotlib ``Figure`` or :class:`Omitted` with the
reason (``load_figures``, ``event_figures``, ``seat_figures``, ``flow_figure``); this module
chooses and renders them. The saga a report draws end to end (:func:`featured_saga`, see
``featured``) is the one that shows its first broken promise, or the most interesting one of a run
that kept them; its message flow is the report's hero figure, its caption saying why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from concertsim.metrics.migration_timeline import chained_timelines, migration_timeline
from concertsim.metrics.records import records_by_kind
from concertsim.reports.migration.timeline_figure import MIGRATION_TIMELINE, migration_timeline_figure
from concertsim.reports.run.event_figures import lost_events_figure
from concertsim.reports.run.featured import featured, featured_saga
from concertsim.reports.run.flow_figure import message_flow
from concertsim.reports.run.load_figures import (
    backlog_and_lag,
    convergence,
    latency_cdf,
    latency_over_time,
    throughput_and_sagas,
)
from concertsim.reports.plotting.base import DPI, FAULT_COLOUR, Omitted, RenderedFigure, figure_png
from concertsim.reports.run.saga import saga_of
from concertsim.reports.run.saga_steps import PARTICIPANTS
from concertsim.reports.run.seat_figures import seat_timeline
from concertsim.sim.run.result import RunResult

if TYPE_CHECKING:
    from concertsim.api import RunOutcome

__all__ = [
    "RenderedFigure", "Omitted", "FigureSet", "FigureSpec", "RUN_FIGURES", "MESSAGE_FLOW", "run_figures",
    "render_run_figures", "flow_figure", "flow_figure_name", "featured_saga", "default_saga", "figure_png",
    "DPI", "FAULT_COLOUR", "LIFELINES",
]

LIFELINES = PARTICIPANTS
MESSAGE_FLOW = "message-flow"


@dataclass(frozen=True)
class FigureSpec:
    name: str
    title: str
    caption: str
    draw: Callable[[RunResult], Figure | Omitted]


def _migration_timeline(result: RunResult) -> Figure | Omitted:
    """The migration plan of the run as a timeline, if one ran (its first move's, in a chain)."""
    timeline = migration_timeline(result, records_by_kind(result.trace))
    if timeline is None:
        return Omitted("no migration plan ran")
    return migration_timeline_figure(result, timeline)


def _chained_moves(outcome: RunOutcome) -> list[RenderedFigure]:
    """The timeline of each move after the first of a chained plan (``then``), one figure each,
    drawn from the run's metrics (``metrics.migration``, computed once for ``summary.json``)."""
    first = _MIGRATION_SPEC
    return [RenderedFigure(f"{first.name}-{timeline['service']}",
                           f"{first.title}: {timeline['service'].capitalize()}'s move",
                           f"{first.caption} Only this move's steps, stores and copies are drawn.",
                           figure_png(migration_timeline_figure(outcome.result, timeline)))
            for timeline in chained_timelines(outcome.metrics["migration"])[1:]]


_MIGRATION_SPEC = FigureSpec(MIGRATION_TIMELINE.removesuffix(".png"), "The migration plan over time",
               "The plan, a row per step (a verify with the mismatches it counted), each step also a line across "
               "the panels below. From the top: the share of the moving service's calls "
               "each store received and of users moved to the new store; the copy's lag (commits of one "
               "store's log the other had not applied); the p95 latency, the errors (failed by the system or "
               "unanswered) and, apart, the domain refusals (a business rule answering, such as seat-unavailable) "
               "of client operations by the store their last call to the service went to; the writes and reads a "
               "fence refused and the stray writes, each lane with its count. A panel with nothing to show is left "
               "out; fault windows shaded red, their lanes above.",
               _migration_timeline)
RUN_FIGURES: tuple[FigureSpec, ...] = (
    _MIGRATION_SPEC,
    FigureSpec("lost-events", "Events lost, where they were lost",
               "Each cross is an event some subscriber never processed, on the lane of whoever lost it, at the "
               "moment it was lost; the faults active then are in the red lanes above.", lost_events_figure),
    FigureSpec("latency-over-time", "Latency of each client operation over time",
               "One point per client operation: when it began and how long its client waited (log scale), blue "
               "when it succeeded, red when it failed, orange when its outcome stayed unknown; fault windows are "
               "shaded red, their lanes above. Admission waves show as bands, timeouts as a row of points at "
               "the client's timeout.", latency_over_time),
    FigureSpec("throughput", "Throughput and sagas in flight",
               "Work done per second and reservations still open; fault windows are shaded red, their lanes "
               "above.", throughput_and_sagas),
    FigureSpec("backlog", "Outbox backlog and consumer lag",
               "Events waiting to be published or consumed; they must drain to zero after the heal.",
               backlog_and_lag),
    FigureSpec("seat-timeline", "Seat states per date",
               "Seats sold, held, released by a hold that ended unpaid (and not sold again since), and never "
               "taken; the dashed line is when the last user left.", seat_timeline),
    FigureSpec("latency-cdf", "Latency per endpoint",
               "How long clients waited, per public endpoint with enough requests; a long tail points at "
               "queueing or timeouts.", latency_cdf),
    FigureSpec("convergence", "Time to convergence",
               "How long after the heal the system became quiescent (or that it never did).", convergence),
)
"""The run figures, in the order a report shows them."""


@dataclass
class FigureSet:
    """The figures rendered for a run, and those left out with the reason."""

    rendered: list[RenderedFigure] = field(default_factory=list)
    omitted: list[tuple[str, str]] = field(default_factory=list)
    """(title, why it was left out)"""

    def named(self, name: str) -> RenderedFigure | None:
        return next((f for f in self.rendered if f.name == name), None)


def flow_figure_name(reservation_id: str, hero: bool) -> str:
    """``message-flow`` for the hero saga, ``message-flow-<id>`` for any other."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in reservation_id)
    return MESSAGE_FLOW if hero else f"{MESSAGE_FLOW}-{safe}"


def flow_figure(
    result: RunResult, reservation_id: str, *, hero: bool = True, reason: str = ""
) -> RenderedFigure | Omitted:
    """The message flow of one saga, rendered; ``reason`` (why this saga is drawn) ends its caption."""
    drawn = message_flow(saga_of(result, reservation_id), result.scenario)
    if isinstance(drawn, Omitted):
        return drawn
    return RenderedFigure(
        flow_figure_name(reservation_id, hero), f"Message flow of {reservation_id}",
        f"The saga of {reservation_id} across the services, time downward: calls, replies and events as arrows, "
        "lost messages ending in a cross, timeouts as an orange wait, faults in red over the parties they struck."
        + (f" {reason}" if reason else ""),
        figure_png(drawn),
    )


def run_figures(outcome: RunOutcome, *, saga: str | None = None, extra_sagas: tuple[str, ...] = ()) -> FigureSet:
    """Every run figure worth drawing for ``outcome``: the hero message flow of ``saga`` (default:
    :func:`featured_saga`), one for each of ``extra_sagas``, then :data:`RUN_FIGURES`."""
    result = outcome.result
    found = FigureSet()
    chosen = featured(outcome)
    hero = saga or (chosen.reservation_id if chosen is not None else None)
    reason = chosen.reason if chosen is not None and chosen.reservation_id == hero else ""
    for reservation_id, is_hero in ([(hero, True)] if hero else []) + [(s, False) for s in extra_sagas if s != hero]:
        drawn = flow_figure(result, reservation_id, hero=is_hero, reason=reason if is_hero else "")
        if isinstance(drawn, Omitted):
            found.omitted.append((f"Message flow of {reservation_id}", drawn.reason))
        else:
            found.rendered.append(drawn)
    for spec in RUN_FIGURES:
        figure = spec.draw(result)
        if isinstance(figure, Omitted):
            found.omitted.append((spec.title, figure.reason))
        else:
            found.rendered.append(RenderedFigure(spec.name, spec.title, spec.caption, figure_png(figure)))
        if spec is _MIGRATION_SPEC and result.scenario.migration is not None:
            found.rendered.extend(_chained_moves(outcome))
    return found


def render_run_figures(outcome: RunOutcome, *, saga: str | None = None) -> list[RenderedFigure]:
    """The rendered figures of :func:`run_figures`."""
    return run_figures(outcome, saga=saga).rendered


default_saga = featured_saga
