"""Architecture analysis: the graph of services, endpoints, topics and databases, read from the
simulator's own wiring for a scenario (nothing is described twice), and what it tells an architect
(seed 2, 3 and 5): synchronous call chains and their depth, each component's blast radius,
synchronous cycles, events nobody consumes, subscriptions nobody feeds and the fan-out of each event.

The wiring is read by building the system of the scenario (``build_system``), which starts no
simulated time: the hosts' endpoints, the gateway's routes, the broker's consumer groups per event
type, the jobs, and the service modules' ``CALLS`` and ``PUBLISHES``. A design switch that changes
the wiring (``payment_flow``, ``compensation``, ``hold_expiry``) therefore changes the graph.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

import networkx as nx
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from concertsim.models import concert as concert_model
from concertsim.models import data_platform as data_platform_model
from concertsim.models import points as points_model
from concertsim.models import queue as queue_model
from concertsim.models import reservations as reservations_model
from concertsim.reports.figures import figure_png
from concertsim.scenarios.schema import Scenario
from concertsim.sim.gateway import ROUTES
from concertsim.sim.storage import INBOX, OUTBOX
from concertsim.sim.system import SERVICE_MODULES, build_system
from concertsim.sim.world import World

__all__ = [
    "build_graph",
    "analyze",
    "analyze_graph",
    "ArchitectureReport",
    "write_graphml",
    "architecture_figure",
    "architecture_figure_png",
    "format_text",
    "NODE_KINDS",
    "EDGE_KINDS",
]

CLIENT = "client"
GATEWAY = "gateway"
BROKER = "broker"

NODE_KINDS = ("client", "gateway", "route", "service", "endpoint", "topic", "database")
EDGE_KINDS = ("sync", "route", "token-check", "publish", "subscribe", "owns")
SYNC_EDGE_KINDS = frozenset({"sync", "route", "token-check"})
"""The edges a request waits on: if the far end is down, the request fails."""

# The domain module whose tables each service's database holds.
_DOMAIN_MODULES = {
    "reservation": reservations_model,
    "point": points_model,
    "queue": queue_model,
    "concert": concert_model,
    "data_platform": data_platform_model,
}


# --- the graph ------------------------------------------------------------------------------------


def build_graph(scenario: Scenario) -> nx.MultiDiGraph:
    """The architecture of ``scenario`` as a typed multigraph.

    Nodes carry ``kind`` (one of :data:`NODE_KINDS`): ``client``; ``gateway``; ``route`` (a public
    endpoint, e.g. ``POST /api/v1/payments``); ``service``; ``endpoint`` (``point.use``);
    ``topic`` (one node per event type, with the broker ``topic`` it travels on); ``database``
    (``db:point``, with its ``tables``).

    Edges carry ``kind`` (one of :data:`EDGE_KINDS`): ``sync`` (a synchronous call: client to route,
    endpoint to endpoint), ``route`` (route to the service endpoint it forwards to),
    ``token-check`` (route to ``queue.check``, made before forwarding), ``publish`` (service to
    event), ``subscribe`` (event to consumer group, asynchronous), ``owns`` (gateway to its routes,
    service to its endpoints and database).
    """
    system = build_system(World(scenario, scenario.seed))
    hosts = {service: replicas[0] for service, replicas in system.replicas.items()}  # one node per service
    broker = system.broker
    graph = nx.MultiDiGraph(name=scenario.name, **_design_attributes(scenario))
    graph.add_node(CLIENT, kind="client")
    graph.add_node(GATEWAY, kind="gateway")

    server_of = {
        endpoint: name
        for name, host in hosts.items() if name != GATEWAY
        for endpoint in host.endpoints
    }
    for name, host in hosts.items():
        if name == GATEWAY:
            continue
        jobs = sorted(d.removeprefix("job:") for d in host.daemon_factories if d.startswith("job:"))
        graph.add_node(name, kind="service", jobs=", ".join(jobs))
        if host.db is not None:
            database = f"db:{name}"
            graph.add_node(database, kind="database", service=name, tables=", ".join(_tables(name, host.db)))
            graph.add_edge(name, database, kind="owns")
        for endpoint in host.endpoints:
            graph.add_node(endpoint, kind="endpoint", service=name, served=True)
            graph.add_edge(name, endpoint, kind="owns")

    def endpoint_node(endpoint: str) -> str:
        # A call to an endpoint no host serves is still drawn, and reported as unserved.
        if endpoint not in graph:
            graph.add_node(endpoint, kind="endpoint", service=endpoint.split(".", 1)[0], served=False)
        return endpoint

    for route in hosts[GATEWAY].endpoints:
        target = ROUTES[route]
        method, _, path = route.partition(" ")
        graph.add_node(
            route, kind="route", method=method, path=path, target=target.endpoint,
            service=server_of.get(target.endpoint, target.service), needs_token=target.needs_token,
        )
        graph.add_edge(GATEWAY, route, kind="owns")
        graph.add_edge(CLIENT, route, kind="sync")
        if target.needs_token:
            graph.add_edge(route, endpoint_node("queue.check"), kind="token-check")
        graph.add_edge(route, endpoint_node(target.endpoint), kind="route")
    for module in SERVICE_MODULES.values():
        for caller, callees in module.CALLS.items():
            for callee in callees:
                graph.add_edge(endpoint_node(caller), endpoint_node(callee), kind="sync")

    for service, module in SERVICE_MODULES.items():
        for event_type in module.PUBLISHES:
            graph.add_node(event_type, kind="topic", topic=broker.topic_of[event_type])
            graph.add_edge(service, event_type, kind="publish")
    for event_type, groups in broker.interests.items():
        if event_type not in graph:
            graph.add_node(event_type, kind="topic", topic=broker.topic_of.get(event_type, ""))
        for group in groups:
            if group not in graph:  # consumer groups are named after their service
                graph.add_node(group, kind="service", jobs="")
            graph.add_edge(event_type, group, kind="subscribe")
    return graph


def _design_attributes(scenario: Scenario) -> dict[str, Any]:
    return {f"design.{k}": v for k, v in scenario.design.model_dump(mode="json").items()}


def _tables(service: str, database: Any) -> list[str]:
    """The tables of a service's database: its domain module's exported table names, those the
    initial data created, and the outbox and inbox every database holds (seed 6.2, 4.2.3)."""
    tables = set(database.tables) | {OUTBOX, INBOX}
    module = _DOMAIN_MODULES.get(service)
    if module is not None:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if name.isupper() and isinstance(value, str) and not name.endswith("_PREFIX"):
                tables.add(value)
    return sorted(tables)


def _nodes(graph: nx.MultiDiGraph, kind: str) -> list[str]:
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def _edges(graph: nx.MultiDiGraph, kind: str) -> list[tuple[str, str]]:
    return [(a, b) for a, b, k in graph.edges(data="kind") if k == kind]


def _sync_graph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Routes and endpoints, with an edge for each synchronous wait (client edges left out)."""
    sync = nx.DiGraph()
    for a, b, kind in graph.edges(data="kind"):
        if kind in SYNC_EDGE_KINDS and a != CLIENT:
            sync.add_edge(a, b)
    return sync


# --- the analysis ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchitectureReport:
    """What the architecture graph of one scenario says. Plain data: ``to_json()`` is ready for
    ``json.dumps``."""

    scenario: str
    design: dict[str, Any]
    routes: list[str]
    """the public routes, in the gateway's order"""
    call_chains: dict[str, list[list[str]]]
    """route -> every synchronous chain it waits on, in call order: ``client, gateway, endpoint,
    ...`` (the token check is a chain of its own)"""
    depth: dict[str, int]
    """route -> synchronous hops below the gateway on its longest chain"""
    blast_radius: dict[str, dict[str, Any]]
    """component (gateway, each service, broker) -> ``routes_failing``: the public routes that fail
    while it is down (it serves an endpoint on one of the route's synchronous chains);
    ``stalled_subscriptions``: consumer group -> the event types it stops receiving"""
    sync_cycles: list[list[str]]
    unconsumed_events: list[str]
    """published by a service, handled by no consumer group"""
    unfed_subscriptions: list[str]
    """handled by a consumer group, published by no service"""
    unserved_endpoints: list[str]
    """called or routed to, served by no host"""
    fan_out: dict[str, list[str]]
    """event type -> the consumer groups that handle it"""
    publishers: dict[str, list[str]]
    """event type -> the services that publish it"""

    @property
    def max_depth(self) -> int:
        return max(self.depth.values(), default=0)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def analyze(scenario: Scenario) -> ArchitectureReport:
    """Build the graph of ``scenario`` and analyse it (see :func:`analyze_graph`)."""
    return analyze_graph(build_graph(scenario))


def analyze_graph(graph: nx.MultiDiGraph) -> ArchitectureReport:
    """Call chains, blast radius, cycles and event coverage of a graph from :func:`build_graph`.

    A route fails while a component is down if the component serves any endpoint the route waits on
    synchronously, the gateway's token check included; asynchronous consumers never fail a route,
    they stall: their events wait in the broker (with ``publish=dual_write``, events raised while
    the broker is down are lost instead).
    """
    sync = _sync_graph(graph)
    routes = _nodes(graph, "route")
    service_of = dict(graph.nodes(data="service"))
    chains = {route: [[CLIENT, GATEWAY, *path[1:]] for path in _paths_from(sync, route)] for route in routes}
    depth = {route: max((len(c) - 2 for c in chains[route]), default=0) for route in routes}

    publishers: dict[str, list[str]] = {}
    for service, event in _edges(graph, "publish"):
        publishers.setdefault(event, []).append(service)
    fan_out = {e: sorted(g for _, g, k in graph.out_edges(e, data="kind") if k == "subscribe")
               for e in sorted(_nodes(graph, "topic"))}

    services = _nodes(graph, "service")
    blast: dict[str, dict[str, Any]] = {
        GATEWAY: {"routes_failing": list(routes), "stalled_subscriptions": {}},
    }
    for service in services:
        failing = [r for r in routes if any(service_of.get(n) == service for n in nx.descendants(sync, r))]
        stalled: dict[str, list[str]] = {}
        for event in sorted(e for e, ps in publishers.items() if service in ps):
            for group in fan_out[event]:
                stalled.setdefault(group, []).append(event)
        blast[service] = {"routes_failing": failing, "stalled_subscriptions": dict(sorted(stalled.items()))}
    every_subscription: dict[str, list[str]] = {}
    for event, groups in fan_out.items():
        for group in groups:
            every_subscription.setdefault(group, []).append(event)
    blast[BROKER] = {"routes_failing": [], "stalled_subscriptions": dict(sorted(every_subscription.items()))}

    return ArchitectureReport(
        scenario=graph.graph.get("name", ""),
        design={k.removeprefix("design."): v for k, v in graph.graph.items() if k.startswith("design.")},
        routes=routes,
        call_chains=chains,
        depth=depth,
        blast_radius=blast,
        sync_cycles=sorted(_rotated_to_least(c) for c in nx.simple_cycles(sync)),
        unconsumed_events=sorted(e for e in fan_out if e in publishers and not fan_out[e]),
        unfed_subscriptions=sorted(e for e in fan_out if fan_out[e] and e not in publishers),
        unserved_endpoints=sorted(n for n, served in graph.nodes(data="served") if served is False),
        fan_out=fan_out,
        publishers={e: sorted(ps) for e, ps in sorted(publishers.items())},
    )


def _rotated_to_least(cycle: list[str]) -> list[str]:
    """The cycle starting at its least node: the same cycle always reads the same."""
    start = cycle.index(min(cycle))
    return [*cycle[start:], *cycle[:start]]


def _paths_from(sync: nx.DiGraph, start: str) -> list[list[str]]:
    """Every maximal simple path from ``start``, successors in the order they were wired (so a
    route's token check comes before the call it guards)."""
    paths: list[list[str]] = []

    def walk(path: list[str]) -> None:
        onward = [n for n in sync.successors(path[-1]) if n not in path]
        if not onward:
            paths.append(path)
        for node in onward:
            walk([*path, node])

    walk([start])
    return paths if len(paths[0]) > 1 else []


# --- GraphML --------------------------------------------------------------------------------------


def write_graphml(graph: nx.MultiDiGraph, path: str | IO[bytes]) -> None:
    """Write ``graph`` as GraphML (Gephi, yEd, ``networkx.read_graphml``). Booleans become 0/1,
    anything but a string or an integer becomes its string."""
    plain = nx.MultiDiGraph()
    plain.graph.update((k, _graphml_value(v)) for k, v in graph.graph.items())
    for node, data in graph.nodes(data=True):
        plain.add_node(node, **{k: _graphml_value(v) for k, v in data.items()})
    for a, b, key, data in graph.edges(keys=True, data=True):
        plain.add_edge(a, b, key=key, **{k: _graphml_value(v) for k, v in data.items()})
    nx.write_graphml(plain, path)


def _graphml_value(value: Any) -> str | int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return str(value)


# --- the figure -----------------------------------------------------------------------------------


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
    switches = ", ".join(f"{k}={_switch(v)}" for k, v in report.design.items()
                         if k in ("payment_flow", "publish", "compensation"))
    figure.suptitle(f"Architecture of {report.scenario}  ({switches})", fontsize=12, y=0.975)
    return figure


def architecture_figure_png(scenario: Scenario) -> bytes:
    return figure_png(architecture_figure(scenario))


def _place_components(graph: nx.MultiDiGraph) -> dict[str, _Box]:
    boxes: dict[str, _Box] = {}
    spare = 0
    for name in [CLIENT, GATEWAY, *_nodes(graph, "service")]:
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
    for event in _nodes(graph, "topic"):
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
    for event, group in sorted(_edges(graph, "subscribe")):
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


def _switch(value: Any) -> str:
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


# --- text -----------------------------------------------------------------------------------------


def format_text(report: ArchitectureReport) -> str:
    """The report for a terminal: summary, call chains, blast radius, fan-out and the findings."""
    lines = [
        f"Architecture of {report.scenario}  ("
        + ", ".join(f"{k}={_switch(v)}" for k, v in report.design.items()
                    if k in ("payment_flow", "publish", "compensation")) + ")",
        "",
    ]
    deepest = [r for r in report.routes if report.depth[r] == report.max_depth]
    widest = max((c for c in report.blast_radius if c != GATEWAY),
                 key=lambda c: len(report.blast_radius[c]["routes_failing"]), default="")
    widest_count = len(report.blast_radius[widest]["routes_failing"]) if widest else 0
    lines += [
        "Summary",
        f"  deepest synchronous chain: {report.max_depth} hop(s) below the gateway ({', '.join(deepest)})",
        f"  widest blast radius after the gateway: {widest} ({widest_count} of {len(report.routes)} routes)",
        (f"  synchronous cycles: {len(report.sync_cycles)}; events with no subscriber:"
         f" {len(report.unconsumed_events)}; subscriptions nobody feeds: {len(report.unfed_subscriptions)}"),
        "",
        "Synchronous call chains (depth: hops below the gateway on the longest chain)",
    ]
    width = max((len(r) for r in report.routes), default=0)
    for route in report.routes:
        chains = report.call_chains[route]
        lines.append(f"  {route:<{width}}  depth {report.depth[route]}")
        lines += [f"      {' -> '.join(chain)}" for chain in chains]
    lines += ["", *_blast_radius_table(report), ""]
    lines.append("Event fan-out (consumer groups per event type)")
    event_width = max((len(e) for e in report.fan_out), default=0)
    for event, groups in sorted(report.fan_out.items(), key=lambda item: (-len(item[1]), item[0])):
        by = ", ".join(report.publishers.get(event, [])) or "nobody"
        lines.append(f"  {event:<{event_width}}  {len(groups)}  {', '.join(groups) or '-':<28}  published by {by}")
    lines.append("")
    lines += _section("Synchronous cycles", (" -> ".join([*c, c[0]]) for c in report.sync_cycles))
    lines += _section("Events published with no subscriber", report.unconsumed_events)
    lines += _section("Subscriptions to events nobody publishes", report.unfed_subscriptions)
    lines += _section("Calls to endpoints no host serves", report.unserved_endpoints)
    return "\n".join(lines).rstrip()


def _blast_radius_table(report: ArchitectureReport) -> list[str]:
    radius = report.blast_radius
    breaking = [c for c in radius if radius[c]["routes_failing"]]
    harmless = [c for c in radius if not radius[c]["routes_failing"]]
    width = max((len(r) for r in report.routes), default=5)
    lines = ["Blast radius: public routes that fail while a component is down (x)"]
    lines.append("  " + "route".ljust(width) + "".join(f"  {c}" for c in breaking))
    for route in report.routes:
        cells = "".join(f"  {('x' if route in radius[c]['routes_failing'] else '.'):^{len(c)}}" for c in breaking)
        lines.append(("  " + route.ljust(width) + cells).rstrip())
    lines.append(("  " + "routes failing".ljust(width)
                  + "".join(f"  {len(radius[c]['routes_failing']):^{len(c)}}" for c in breaking)).rstrip())
    if harmless:
        lines.append(f"  No public route fails while {_join_and(harmless)} is down.")
    lines += ["", "Asynchronous work that stalls while a component is down (its subscribers wait)"]
    quiet = []
    for component, entry in radius.items():
        stalled = entry["stalled_subscriptions"]
        if not stalled:
            quiet.append(component)
            continue
        for i, (group, events) in enumerate(stalled.items()):
            head = component if i == 0 else ""
            lines.append(f"  {head:<14}-> {group}: {', '.join(e.removesuffix('Event') for e in events)}")
    if report.design.get("publish") == "dual_write" and radius.get(BROKER, {}).get("stalled_subscriptions"):
        lines.append("  (publish=dual_write: events raised while the broker is down are lost, not delayed)")
    if quiet:
        lines.append(f"  Nothing downstream stalls while {_join_and(quiet)} is down.")
    return lines


def _join_and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _section(title: str, items: Iterable[str]) -> list[str]:
    items = list(items)
    return [title, *(f"  {item}" for item in items or ["(none)"]), ""]
