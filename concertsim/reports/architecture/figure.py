"""The architecture figure of ``concertsim graph``: the client, the gateway and the services as
boxes, their synchronous calls as arrows, and each publisher's topic with the groups that
subscribe to its events (:mod:`concertsim.reports.architecture.analysis` builds and analyses the graph)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from concertsim.reports.architecture.analysis import (
    CLIENT,
    GATEWAY,
    analyze_graph,
    build_graph,
    edges_of_kind,
    nodes_of_kind,
    switch_word,
)
from concertsim.reports.plotting.base import figure_png
from concertsim.scenarios.schema import Scenario

__all__ = ["architecture_figure", "architecture_figure_png"]


class _Box(NamedTuple):
    x: float
    y: float
    width: float
    height: float

    def edge_toward(self, x: float, y: float) -> tuple[float, float]:
        """The point where the line from this box's centre toward (x, y) leaves the box."""
        dx, dy = x - self.x, y - self.y
        scale = min(self.width / 2 / abs(dx) if dx else float("inf"),
                    self.height / 2 / abs(dy) if dy else float("inf"))
        return self.x + dx * scale, self.y + dy * scale


# Hand-placed: requests flow left to right (client, gateway, services); each service's topic sits
# to its right, so publishing is a short horizontal arrow; Data Platform, a pure consumer, at the
# far right. Service boxes are stacked so the two synchronous calls Reservation makes (to Concert,
# to Point) are short vertical arrows.
_POSITIONS = {
    CLIENT: (0.6, 3.6), GATEWAY: (2.5, 3.6),
    "queue": (6.2, 6.3), "concert": (6.2, 4.75), "reservation": (6.2, 2.95), "point": (6.2, 1.0),
    "data_platform": (12.75, 2.95),
}
_TOPIC_X = 9.3
# How far along each subscription arrow its label sits, where the default would meet a box.
_SUBSCRIPTION_LABEL_AT = {"queue": 0.72, "reservation": 0.7}
_SYNC, _PUBLISH, _SUBSCRIBE, _UNCONSUMED = "#1f5fa8", "#7b4fa0", "#2e8b57", "#c0504d"
_LINE_HEIGHT = 0.24


def architecture_figure(scenario: Scenario) -> Figure:
    """Services as boxes in a fixed layout; solid arrows for synchronous calls, labelled with the
    endpoints called; dashed arrows from each service to its broker topic (listing the event types
    it publishes, those nobody consumes in red) and from each topic to the services that subscribe,
    labelled with the event types they handle."""
    graph = build_graph(scenario)
    report = analyze_graph(graph)
    figure = Figure(figsize=(12, 7.2))
    axes = figure.add_axes((0, 0, 1, 0.94))
    axes.set_axis_off()
    axes.set_xlim(-0.2, 13.65)
    axes.set_ylim(-0.3, 7.0)

    boxes = _place_components(graph)
    topics = _place_topics(graph, boxes)

    for (a, b), endpoints in _service_calls(graph).items():
        _arrow(axes, boxes[a], boxes[b], "\n".join(endpoints), _SYNC, "-")
    for topic, (box, events, publisher) in topics.items():
        if publisher in boxes:
            _arrow(axes, boxes[publisher], box, "", _PUBLISH, "--")
        _draw_topic(axes, box, topic, events, set(report.unconsumed_events))
    subscriptions = {pair: events for pair, events in _subscriptions(graph).items() if pair[1] in boxes}
    leaving = _subscription_starts({pair: (topics[pair[0]][0], boxes[pair[1]]) for pair in subscriptions})
    for (topic, group), events in subscriptions.items():
        label = "\n".join(e.removesuffix("Event") for e in events)
        _arrow(axes, topics[topic][0], boxes[group], label, _SUBSCRIBE, "--",
               along=_SUBSCRIPTION_LABEL_AT.get(group, 0.5), start_at=leaving[(topic, group)])
    for name, box in boxes.items():
        kind = graph.nodes[name]["kind"]
        _draw_box(axes, box, name, "#fff2cc" if kind in ("client", "gateway") else "#dae8fc")

    handles = [
        Line2D([], [], color=_SYNC, label="synchronous call (endpoints)"),
        Line2D([], [], color=_PUBLISH, linestyle="--", label="publish to the service's topic"),
        Line2D([], [], color=_SUBSCRIBE, linestyle="--", label="subscription (event types handled)"),
        Line2D([], [], color=_UNCONSUMED, marker="s", linestyle="none", label="event with no subscriber"),
    ]
    axes.legend(handles=handles, loc="lower left", fontsize=9, frameon=False)
    switches = ", ".join(f"{k}={switch_word(v)}" for k, v in report.design.items()
                         if k in ("payment_flow", "publish", "compensation"))
    figure.suptitle(f"Architecture of {report.scenario}  ({switches})", fontsize=12, y=0.975)
    return figure


def architecture_figure_png(scenario: Scenario) -> bytes:
    return figure_png(architecture_figure(scenario))


def _place_components(graph: nx.MultiDiGraph) -> dict[str, _Box]:
    boxes: dict[str, _Box] = {}
    spare = 0
    for name in [CLIENT, GATEWAY, *nodes_of_kind(graph, "service")]:
        if name in _POSITIONS:
            x, y = _POSITIONS[name]
        else:  # a service this layout does not know: along the bottom, clear of the others
            x, y = 3.4 + 1.9 * spare, -0.05
            spare += 1
        boxes[name] = _Box(x, y, 1.25 if name in (CLIENT, GATEWAY) else 1.75, 0.5)
    return boxes


def _place_topics(graph: nx.MultiDiGraph, boxes: dict[str, _Box]) -> dict[str, tuple[_Box, list[str], str]]:
    """Broker topic -> (its box, its event types, its publisher), each beside its publisher."""
    by_topic: dict[str, list[str]] = {}
    for event in nodes_of_kind(graph, "topic"):
        by_topic.setdefault(graph.nodes[event]["topic"] or "(no topic)", []).append(event)
    placed: dict[str, tuple[_Box, list[str], str]] = {}
    spare_y = 0.0
    for topic, events in by_topic.items():
        publisher = next((p for e in events for p, _, k in graph.in_edges(e, data="kind") if k == "publish"), "")
        height = _LINE_HEIGHT * (len(events) + 1) + 0.16
        if publisher in boxes:
            y = boxes[publisher].y
        else:
            y, spare_y = spare_y + height / 2, spare_y + height + 0.1
        placed[topic] = (_Box(_TOPIC_X, y, 2.2, height), sorted(events), publisher)
    return placed


def _subscription_starts(
    arrows: dict[tuple[str, str], tuple[_Box, _Box]],
) -> dict[tuple[str, str], tuple[float, float]]:
    """Where each subscription arrow leaves its topic box: a subscriber level with the box is
    reached from the facing side; one above or below from the top or bottom edge, spread along it
    (nearest subscriber first), so the arrows do not share a start or meet the publish arrow that
    comes in at the side."""
    starts: dict[tuple[str, str], tuple[float, float]] = {}
    by_edge: dict[tuple[str, int], list[tuple[float, tuple[str, str]]]] = {}
    for pair, (topic, target) in arrows.items():
        if abs(target.y - topic.y) < topic.height / 2:
            side = topic.width / 2 if target.x > topic.x else -topic.width / 2
            starts[pair] = (topic.x + side, target.y)
        else:
            edge = 1 if target.y > topic.y else -1
            by_edge.setdefault((pair[0], edge), []).append((abs(target.y - topic.y), pair))
    for (_, edge), waiting in by_edge.items():
        for i, (_, pair) in enumerate(sorted(waiting)):
            topic = arrows[pair][0]
            starts[pair] = (topic.x - topic.width / 2 + 0.35 + 0.5 * i, topic.y + edge * topic.height / 2)
    return starts


def _service_calls(graph: nx.MultiDiGraph) -> dict[tuple[str, str], list[str]]:
    """(caller box, callee service) -> the endpoints called: the client calls the gateway, the
    gateway the routed endpoints and the token check, services each other."""
    calls: dict[tuple[str, str], list[str]] = {(CLIENT, GATEWAY): ["public API"]}
    service_of = dict(graph.nodes(data="service"))
    for a, b, kind in graph.edges(data="kind"):
        if kind in ("route", "token-check"):
            label = f"{b} (token)" if kind == "token-check" else b
            calls.setdefault((GATEWAY, service_of[b]), []).append(label)
        elif kind == "sync" and a != CLIENT:
            calls.setdefault((service_of[a], service_of[b]), []).append(b)
    return {pair: sorted(set(labels)) for pair, labels in calls.items()}


def _subscriptions(graph: nx.MultiDiGraph) -> dict[tuple[str, str], list[str]]:
    subscribed: dict[tuple[str, str], list[str]] = {}
    for event, group in sorted(edges_of_kind(graph, "subscribe")):
        subscribed.setdefault((graph.nodes[event]["topic"] or "(no topic)", group), []).append(event)
    return subscribed


def _draw_box(axes: Any, box: _Box, label: str, colour: str) -> None:
    axes.add_patch(FancyBboxPatch(
        (box.x - box.width / 2, box.y - box.height / 2), box.width, box.height,
        boxstyle="round,pad=0,rounding_size=0.12", facecolor=colour, edgecolor="#444444", zorder=3,
    ))
    axes.text(box.x, box.y, label, ha="center", va="center", fontsize=11, fontweight="bold", zorder=4)


def _draw_topic(axes: Any, box: _Box, topic: str, events: Sequence[str], unconsumed: set[str]) -> None:
    axes.add_patch(FancyBboxPatch(
        (box.x - box.width / 2, box.y - box.height / 2), box.width, box.height,
        boxstyle="round,pad=0,rounding_size=0.06", facecolor="#f3eef8", edgecolor=_PUBLISH, zorder=3,
    ))
    top = box.y + box.height / 2 - 0.08 - _LINE_HEIGHT / 2
    left = box.x - box.width / 2 + 0.12
    axes.text(left, top, f"topic {topic}", ha="left", va="center", fontsize=8.5, fontweight="bold",
              color=_PUBLISH, zorder=4)
    for i, event in enumerate(events, start=1):
        lonely = event in unconsumed
        axes.text(left + 0.1, top - i * _LINE_HEIGHT, event.removesuffix("Event"), ha="left", va="center",
                  fontsize=8, color=_UNCONSUMED if lonely else "#222222", fontstyle="italic" if lonely else "normal",
                  zorder=4)


def _arrow(
    axes: Any, start: _Box, end: _Box, label: str, colour: str, style: str, along: float = 0.58,
    start_at: tuple[float, float] | None = None,
) -> None:
    """An arrow from the edge of ``start`` (or from ``start_at`` on it) to the edge of ``end``,
    its label ``along`` the way."""
    x0, y0 = start_at or start.edge_toward(end.x, end.y)
    x1, y1 = end.edge_toward(x0, y0)
    axes.add_patch(FancyArrowPatch(
        (x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=13, color=colour, linestyle=style,
        linewidth=1.4, shrinkA=1, shrinkB=1, zorder=2,
    ))
    if not label:
        return
    if abs(y1 - y0) < 0.05 and abs(x1 - x0) < 1.5:  # short and level: the label goes above
        axes.text((x0 + x1) / 2, y0 + 0.06, label, fontsize=7.5, color=colour, ha="center", va="bottom")
        return
    mx, my = x0 + along * (x1 - x0), y0 + along * (y1 - y0)
    axes.text(mx, my, label, fontsize=7.5, color=colour, ha="center", va="center", linespacing=1.15,
              bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 1.2}, zorder=2.5)
