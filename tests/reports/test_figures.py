"""Visual regression of every run figure, by structure: how many axes, integer ticks on counts,
plain milliseconds on latency, named legend entries, no label over another; a figure with nothing
to show is left out; the message flow draws lost messages, timeouts and faults where they struck."""

from __future__ import annotations

import itertools
import re

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text

from concertsim.reports.run.event_figures import lost_events, lost_events_figure
from concertsim.reports.run.figures import RUN_FIGURES, flow_figure, run_figures
from concertsim.reports.run.flow_figure import TIMEOUT, message_flow
from concertsim.reports.run.load_figures import backlog_and_lag, convergence, latency_cdf, throughput_and_sagas
from concertsim.reports.plotting.base import FAULT_COLOUR, Omitted, RenderedFigure
from concertsim.reports.run.saga import saga_of
from concertsim.reports.run.seat_figures import seat_timeline
from concertsim.scenarios.loader import load_builtin
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

RELAY_CRASHES = [fault.model_dump(mode="json") for fault in load_builtin("relay-crashes").faults]
DELAYED_USE_REPLIES = [{"at": 0, "kind": "delay", "target": "reply", "duration": 15,
                        "match": {"message_type": "point.use"}, "params": {"seconds": 30}}]
LOST_USE_REPLIES = [{"at": 0, "kind": "drop", "target": "reply", "duration": 100,
                     "match": {"message_type": "point.use"}}]


# --- what a reader trusts, measured on the drawn figure ----------------------------------------------


def drawn(figure: Figure) -> Figure:
    if not isinstance(figure.canvas, FigureCanvasAgg):
        FigureCanvasAgg(figure)
    figure.draw_without_rendering()
    return figure


def visible_ticks(axis) -> list:
    low, high = sorted(axis.get_view_interval())
    span = (high - low) * 1e-9
    return [t for t in axis.get_major_ticks() + axis.get_minor_ticks() if low - span <= t.get_loc() <= high + span]


def texts(figure: Figure) -> list[Text]:
    """Every text the figure draws: titles, axis labels, tick labels in view, texts, legends."""
    found: list[Text] = list(figure.texts)
    for legend in figure.legends:
        found += legend.get_texts()
    for axes in figure.axes:
        found += [axes.title, axes._left_title, axes._right_title, axes.xaxis.label, axes.yaxis.label]
        found += [t for t in axes.texts if not isinstance(t, Annotation) or t.get_text()]
        for axis in (axes.xaxis, axes.yaxis):
            found += [label for tick in visible_ticks(axis) for label in (tick.label1, tick.label2)]
        if axes.get_legend() is not None:
            found += axes.get_legend().get_texts()
    return [t for t in found if t.get_visible() and t.get_text().strip()]


def overlapping_labels(figure: Figure) -> list[tuple[str, str]]:
    renderer = drawn(figure).canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts(figure)]
    return [
        (a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
        if min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0) > 1
        and min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0) > 1
    ]


def tick_labels(axis) -> list[tuple[float, str]]:
    """(location, label) of each labelled tick in view, on whichever side it is drawn."""
    return [(t.get_loc(), label.get_text()) for t in visible_ticks(axis) for label in (t.label1, t.label2)
            if label.get_visible() and label.get_text()]


def assert_counts_on(axis) -> None:
    drawn(axis.get_figure(root=True))
    ticks = tick_labels(axis)
    assert ticks and all(float(value).is_integer() for value, _ in ticks), f"count ticks not integers: {ticks}"
    assert all(re.fullmatch(r"[\d,−-]+", label) for _, label in ticks), ticks


def legend_labels(figure: Figure) -> list[str]:
    legends = list(figure.legends) + [a.get_legend() for a in figure.axes if a.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def legends_over_plots(figure: Figure) -> list[str]:
    """The legends that lie over a plot's data area."""
    renderer = drawn(figure).canvas.get_renderer()
    legends = list(figure.legends) + [a.get_legend() for a in figure.axes if a.get_legend() is not None]
    return [
        legend.get_texts()[0].get_text() for legend in legends for axes in figure.axes
        if legend.get_window_extent(renderer).overlaps(axes.get_window_extent(renderer))
    ]


def assert_trustworthy(figure: Figure, axes: int) -> None:
    assert len(figure.axes) == axes
    assert overlapping_labels(figure) == []
    assert legends_over_plots(figure) == [], "a legend covers data"
    assert all(label.strip() and not label.startswith("_") for label in legend_labels(figure))


def assert_texts_inside_the_plot(figure: Figure) -> None:
    renderer = drawn(figure).canvas.get_renderer()
    box = figure.axes[0].get_window_extent(renderer)
    for text in figure.axes[0].texts:
        if text.get_text():
            extent = text.get_window_extent(renderer)
            assert box.x0 - 1 <= extent.x0 and extent.x1 <= box.x1 + 1, text.get_text()


# --- runs --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def relay_crashes() -> RunResult:
    """The small opening under the relay-crashes scenario's six faults, healed at 300 s as the built-in is."""
    return run_scenario(small_scenario("workload.duration=300", faults=RELAY_CRASHES))


@pytest.fixture(scope="module")
def never_settles() -> RunResult:
    return run_scenario(small_scenario("design.hold_expiry=false", "settle.deadline=60"))


@pytest.fixture(scope="module")
def dual_write() -> RunResult:
    return run_scenario(small_scenario("design.publish=dual_write",
                                       faults=[{"at": 5, "kind": "crash", "target": "broker", "duration": 10}]))


@pytest.fixture(scope="module")
def one_user() -> RunResult:
    """The README's counterexample: one user, Point's use replies 30 s late for 15 s."""
    return run_scenario(small_scenario("design.compensation=false", "workload.users=1", "seed=483",
                                       faults=DELAYED_USE_REPLIES))


# --- each figure type --------------------------------------------------------------------------------


def test_throughput_has_fault_lanes_integer_counts_and_no_rotated_labels(relay_crashes: RunResult) -> None:
    figure = throughput_and_sagas(relay_crashes)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=3)  # fault lanes, throughput, sagas in flight
    lanes, main, other = figure.axes
    assert [t.get_text() for t in lanes.get_yticklabels()] == [
        "delay ack", "crash relay:reservation", "crash relay:point"], "one lane per fault kind and party struck"
    axis_names = (main.yaxis.label, other.yaxis.label)
    assert all(t.get_rotation() == 0 for t in texts(figure) if t not in axis_names), "no rotated fault label"
    assert_counts_on(main.yaxis)
    assert_counts_on(other.yaxis)
    assert legend_labels(figure)[-1] == "heal"


def test_backlog_counts_events_in_integers(relay_crashes: RunResult) -> None:
    figure = backlog_and_lag(relay_crashes)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=2)
    assert_counts_on(figure.axes[1].yaxis)
    assert "outbox backlog (unpublished rows)" in legend_labels(figure)


def test_latency_is_in_plain_milliseconds(relay_crashes: RunResult) -> None:
    figure = latency_cdf(relay_crashes)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=1)
    drawn(figure)
    labels = [label for _, label in tick_labels(figure.axes[0].xaxis)]
    assert labels and all(re.fullmatch(r"\d[\d,]*(\.\d+)?", label) for label in labels), labels
    assert "ms" in figure.axes[0].get_xlabel()
    assert all(re.search(r"\(n=[\d,]+\)$", label) for label in legend_labels(figure))


def test_seat_timeline_shows_released_seats_apart_and_counts_seats(relay_crashes: RunResult) -> None:
    figure = seat_timeline(relay_crashes)
    assert isinstance(figure, Figure)
    dates = relay_crashes.scenario.concerts.dates
    assert_trustworthy(figure, axes=dates + 1)  # the fault lanes, then a panel per date
    for axes in figure.axes[1:]:
        assert_counts_on(axes.yaxis)
    assert legend_labels(figure) == ["sold", "held", "released, not sold again", "free", "last user left", "heal"]


def test_convergence_is_drawn_only_when_the_settle_phase_had_something_to_drain(
    never_settles: RunResult, relay_crashes: RunResult
) -> None:
    figure = convergence(never_settles)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=1)
    assert "settle: never quiescent before the deadline" in legend_labels(figure)
    quick = run_scenario(small_scenario("workload.users=5"))
    assert isinstance(convergence(quick), Omitted)


def test_lost_events_are_drawn_on_the_lane_of_who_lost_them(dual_write: RunResult) -> None:
    lost = lost_events(dual_write)
    assert lost and all(event.where == "publish to broker lost" for event in lost)
    figure = lost_events_figure(dual_write)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=2)
    lanes = [t.get_text() for t in figure.axes[1].get_yticklabels()]
    assert lanes and all(re.fullmatch(r"reservation: publish to broker lost, \w+ \(\d+\)", lane) for lane in lanes)
    assert sum(int(re.search(r"\((\d+)\)", lane).group(1)) for lane in lanes) == len(lost)
    marks = [line for line in figure.axes[1].lines if line.get_marker() == "x"]
    assert sum(len(line.get_xdata()) for line in marks) == len(lost)
    crash = dual_write.fault_windows[0]
    assert all(crash["start"] <= event.at <= crash["end"] + 1 for event in lost), "lost while the broker was down"


def test_a_run_that_lost_nothing_has_no_lost_events_figure(relay_crashes: RunResult) -> None:
    assert lost_events_figure(relay_crashes) == Omitted("no event was lost")


def test_a_one_user_counterexample_draws_its_saga_and_nothing_empty(one_user: RunResult) -> None:
    from concertsim.api import RunOutcome
    from concertsim.checks import check_run

    outcome = RunOutcome(one_user, check_run(one_user))
    assert "no-orphaned-deduction" in outcome.violated
    chosen = run_figures(outcome)
    assert [f.name for f in chosen.rendered] == ["message-flow"]
    left_out = dict(chosen.omitted)
    assert set(left_out) == {spec.title for spec in RUN_FIGURES}
    assert "no endpoint completed 10 requests" in left_out["Latency per endpoint"]
    assert "stayed at zero" in left_out["Outbox backlog and consumer lag"]


def test_the_message_flow_draws_timeouts_apart_from_replies_and_faults_on_the_parties_struck(
    one_user: RunResult,
) -> None:
    figure = message_flow(saga_of(one_user, "res-1"), one_user.scenario)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=1)
    axes = figure.axes[0]
    column = {label.get_text(): x for x, label in zip(axes.get_xticks(), axes.get_xticklabels(), strict=True)}
    arrows = [a for a in axes.texts if isinstance(a, Annotation) and not a.get_text()]
    arrow_rows = {round(a.xy[1]) for a in arrows}
    timeouts = [t for t in axes.texts if t.get_text() == "point.use timed out"]
    assert len(timeouts) == 2
    for timeout in timeouts:
        assert timeout.get_color() == TIMEOUT
        assert round(timeout.get_position()[1]) not in arrow_rows, "a timeout is not drawn as a reply"
        assert timeout.get_position()[0] == column["reservation"], "on the caller's lifeline"
    strikes = [t for t in axes.texts if t.get_text().startswith("FAULT delay struck point.use (reply)")]
    assert strikes and all(t.get_text().endswith("delayed 30 s") for t in strikes)
    for strike in strikes:
        assert strike.get_color() == FAULT_COLOUR
        assert strike.get_position()[0] == (column["reservation"] + column["point"]) / 2, "over the parties struck"
    window = next(t for t in axes.texts if t.get_text().startswith("FAULT from 0 s to 15 s"))
    assert "every reply of point.use arrives 30 s late" in window.get_text()
    late = [t for t in axes.texts if t.get_text() == "ok (too late, ignored)"]
    assert len(late) == 2 and all(t.get_color() == FAULT_COLOUR for t in late)
    assert "routine steps" in axes.get_title()


def test_the_message_flow_ends_a_lost_message_in_a_cross() -> None:
    result = run_scenario(small_scenario("design.compensation=false", "workload.users=2", faults=LOST_USE_REPLIES))
    lost = next(r for r in result.trace.records if r.kind == "call.reply_lost")
    reservation_id = next(op.detail["reservation_id"] for op in result.history if op.op_id == lost.trace_id)
    figure = message_flow(saga_of(result, reservation_id), result.scenario)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=1)
    axes = figure.axes[0]
    crosses = [line for line in axes.lines if line.get_marker() == "x"]
    assert crosses and all(line.get_color() == FAULT_COLOUR for line in crosses)
    assert any(t.get_text() == "ok (reply lost)" for t in axes.texts)


def test_a_long_saga_keeps_every_label_inside_and_apart(relay_crashes: RunResult) -> None:
    busiest = max(
        {op.detail["reservation_id"] for op in relay_crashes.history if op.detail.get("reservation_id")},
        key=lambda r: (len(saga_of(relay_crashes, r).records), r),
    )
    figure = message_flow(saga_of(relay_crashes, busiest), relay_crashes.scenario, max_rows=30)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=1)
    assert_texts_inside_the_plot(figure)


def test_a_fault_on_the_last_lifeline_stays_inside_the_figure(dual_write: RunResult) -> None:
    lost = lost_events(dual_write)[0]
    reservation_id = dual_write.trace.records[
        next(r.seq for r in dual_write.trace.of_kind("event.raised") if r.data["event_id"] == lost.event_id)
    ].data["payload"]["reservation_id"]
    figure = message_flow(saga_of(dual_write, reservation_id), dual_write.scenario)
    assert isinstance(figure, Figure)
    crash = [t for t in figure.axes[0].texts if t.get_text().startswith("FAULT from 5 s to 15 s: the broker is down")]
    assert crash, "the broker's crash is drawn over the broker"
    assert_trustworthy(figure, axes=1)
    assert_texts_inside_the_plot(figure)


def test_a_rendered_flow_figure_is_a_png(one_user: RunResult) -> None:
    rendered = flow_figure(one_user, "res-1")
    assert isinstance(rendered, RenderedFigure) and rendered.png.startswith(b"\x89PNG")
    assert rendered.name == "message-flow"
    assert flow_figure(one_user, "res-1", hero=False).name == "message-flow-res-1"


# --- the saga drawn end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def orchestrated():
    from concertsim.api import run

    return run("orchestrated-payments")


def test_a_run_that_kept_its_promises_draws_a_saga_a_fault_struck_and_says_why(orchestrated) -> None:
    from concertsim.reports.run.featured import featured

    assert orchestrated.holds
    chosen = featured(orchestrated)
    assert chosen is not None and chosen.reason.startswith("Drawn because a reply to it was lost")
    saga = saga_of(orchestrated.result, chosen.reservation_id)
    assert any(r.kind == "call.reply_lost" for r in saga.records)
    hero = run_figures(orchestrated).named("message-flow")
    assert hero is not None and hero.caption.endswith(chosen.reason)


def test_the_flow_figure_covers_the_whole_saga_with_the_span_its_text_gives(orchestrated) -> None:
    from concertsim.reports.run.featured import featured_saga
    from concertsim.reports.run.saga_steps import saga_span
    from concertsim.reports.run.violations import saga_blocks

    reservation_id = featured_saga(orchestrated)
    saga = saga_of(orchestrated.result, reservation_id)
    start, end = saga_span(saga)
    figure = message_flow(saga, orchestrated.result.scenario)
    assert isinstance(figure, Figure)
    assert f"{start:.2f} s to {end:.2f} s" in figure.axes[0].get_title()
    assert figure.axes[0].get_yticklabels()[-1].get_text() == f"{end:.3f} s", "the last row is the saga's end"
    summary = saga_blocks(orchestrated, reservation_id, None)[1].text
    assert f"from {start:.2f} s to {end:.2f} s" in summary.replace("\N{NO-BREAK SPACE}", " ")


def test_a_fault_bar_lies_over_the_parties_it_struck_and_no_other(one_user: RunResult) -> None:
    figure = message_flow(saga_of(one_user, "res-1"), one_user.scenario)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    column = {label.get_text(): x for x, label in zip(axes.get_xticks(), axes.get_xticklabels(), strict=True)}
    bars = [line for line in axes.lines if line.get_linewidth() == 5]
    assert bars
    for bar in bars:
        low, high = bar.get_xdata()
        assert high - low <= 0.7 + 1e-9, "one bar per lifeline struck"
        assert (low + high) / 2 in (column["reservation"], column["point"])


def test_replicas_are_lifelines_of_their_own() -> None:
    result = run_scenario(small_scenario("services.concert.replicas=2", "services.reservation.replicas=2"))
    reservation_id = next(op.detail["reservation_id"] for op in result.history if op.detail.get("reservation_id"))
    figure = message_flow(saga_of(result, reservation_id), result.scenario)
    assert isinstance(figure, Figure)
    lanes = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert any(lane.startswith("reservation#") for lane in lanes)
    assert "reservation" not in lanes


# --- every plot over time on the run's range ---------------------------------------------------------


def time_axes(figure: Figure) -> list:
    """The panels of a figure that plot over simulated time: all axes but the fault lanes and a
    second y axis over a panel (a twin)."""
    drawn(figure)
    panels, seen = [], set()
    for axes in figure.axes:
        where = tuple(round(v, 6) for v in axes.get_position().bounds)
        if axes.get_ylabel() != "faults" and where not in seen:
            panels.append(axes)
        seen.add(where)
    return panels


def busy_pool(result: RunResult, queue: list[int]) -> dict:
    """The ``metrics.resources`` of one pool busy enough to be drawn, with ``queue`` as its first
    seconds' queue lengths (zero after)."""
    seconds = int(result.phases.ended_at) + 1
    return {"gateway.workers": {
        "capacity": 4, "peak_utilisation": 0.75, "saturated_at": None,
        "series": {"utilisation": [0.75] * 3 + [0.0] * (seconds - 3), "queue": queue + [0] * (seconds - len(queue))},
    }}


def test_every_plot_over_time_spans_the_whole_run_under_the_fault_lanes(relay_crashes: RunResult) -> None:
    from concertsim.metrics import compute_metrics
    from concertsim.reports.plotting.capacity import capacity_figure
    from concertsim.reports.run.load_figures import latency_over_time
    from concertsim.reports.run.service_series_figure import service_series_figure
    from concertsim.reports.run.staleness_figure import staleness_figure

    metrics = compute_metrics(relay_crashes)
    busy = busy_pool(relay_crashes, queue=[0, 2, 1])
    figures = {
        "throughput": throughput_and_sagas(relay_crashes),
        "backlog": backlog_and_lag(relay_crashes),
        "seats": seat_timeline(relay_crashes),
        "latency over time": latency_over_time(relay_crashes),
        "services": service_series_figure(metrics["series"], relay_crashes),
        "staleness": staleness_figure(relay_crashes, metrics["staleness"]),
        "capacity": capacity_figure(busy, relay_crashes),
    }
    for name, figure in figures.items():
        assert isinstance(figure, Figure), name
        assert figure.axes[0].get_ylabel() == "faults", f"{name}: the fault lanes on top"
        for axes in time_axes(figure):
            assert axes.get_xlim() == (0, relay_crashes.phases.ended_at), name
            assert any(line.get_linestyle() == ":" and list(line.get_xdata()) == [relay_crashes.phases.heal_at] * 2
                       for line in axes.lines), f"{name}: the heal line"


def test_lost_events_are_drawn_over_the_whole_run(dual_write: RunResult) -> None:
    figure = lost_events_figure(dual_write)
    assert isinstance(figure, Figure)
    assert figure.axes[1].get_xlim() == (0, dual_write.phases.ended_at)


def test_a_p95_line_breaks_over_a_bin_with_no_data(relay_crashes: RunResult) -> None:
    import math

    from concertsim.metrics import compute_metrics
    from concertsim.reports.run.service_series_figure import service_series_figure

    series = compute_metrics(relay_crashes)["series"]
    figure = service_series_figure(series, relay_crashes)
    assert isinstance(figure, Figure)
    services = next(axes for axes in figure.axes if axes.get_ylabel() == "server time p95 (ms)")
    reservation = next(line for line in services.lines if line.get_label() == "reservation")
    values = series["services"]["reservation"]["p95_ms"]
    assert None in values
    drawn_y = list(reservation.get_ydata())
    assert len(drawn_y) == len(values)
    assert all(math.isnan(y) if v is None else y == v for y, v in zip(drawn_y, values, strict=True))


def test_a_capacity_figure_without_queues_has_no_queue_panel_and_the_text_says_so() -> None:
    from concertsim.api import run
    from concertsim.reports.document.blocks import Image
    from concertsim.reports.plotting.capacity import capacity_figure
    from concertsim.reports.run.service_metrics import service_metrics_blocks

    outcome = run("small-opening", overrides=["workload.users=5"])
    resources = {name: {**outcome.metrics["resources"][name], **row}
                 for name, row in busy_pool(outcome.result, queue=[]).items()}
    figure = capacity_figure(resources, outcome.result)
    assert isinstance(figure, Figure)
    assert [axes.get_ylabel() for axes in figure.axes] == ["busy (mean per second)"]
    outcome.metrics["resources"] = resources
    image = next(b for b in service_metrics_blocks(outcome) if isinstance(b, Image) and b.file_name == "capacity.png")
    assert "no queue panel" in image.caption


def test_each_client_operation_is_a_point_coloured_by_its_outcome(relay_crashes: RunResult) -> None:
    from matplotlib.colors import to_hex

    from concertsim.reports.run.load_figures import OUTCOME_COLOURS, latency_over_time

    figure = latency_over_time(relay_crashes)
    assert isinstance(figure, Figure)
    assert_trustworthy(figure, axes=2)
    axes = figure.axes[1]
    assert axes.get_yscale() == "log" and "ms" in axes.get_ylabel()
    ended = [op for op in relay_crashes.history if op.complete_at is not None and op.outcome is not None]
    points = {to_hex(c.get_facecolor()[0]): len(c.get_offsets()) for c in axes.collections if len(c.get_offsets())}
    by_outcome = {outcome: sum(op.outcome == outcome for op in ended) for outcome in OUTCOME_COLOURS}
    assert points == {OUTCOME_COLOURS[o]: n for o, n in by_outcome.items() if n}
    assert sum(points.values()) == len(ended)
