"""Architecture analysis: the graph of services, endpoints, topics and databases, read from the
simulator's own wiring for a scenario (nothing is described twice), and what it tells an architect:
synchronous call chains and their depth, each service's blast radius, synchronous cycles, events
nobody consumes and subscriptions nobody feeds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

import networkx as nx
from matplotlib.figure import Figure

from concertsim.reports.figures import figure_png
from concertsim.scenarios.schema import Scenario
from concertsim.sim.gateway import ROUTES
from concertsim.sim.system import SERVICE_MODULES, build_system, topics_by_event_type
from concertsim.sim.world import World

__all__ = [
    "build_graph",
    "analyze",
    "ArchitectureReport",
    "write_graphml",
    "architecture_figure",
    "architecture_figure_png",
    "format_text",
]

GATEWAY = "gateway"
CLIENT = "client"


def _service_of(endpoint: str) -> str:
    return endpoint.split(".", 1)[0]


def build_graph(scenario: Scenario) -> nx.MultiDiGraph:
    """Nodes have a ``kind`` (client, gateway, route, service, endpoint, topic, database); edges a
    ``kind`` (route, token-check, sync, publish, subscribe, owns)."""
    system = build_system(World(scenario, scenario.seed))
    graph = nx.MultiDiGraph(name=scenario.name)
    graph.add_node(CLIENT, kind="client")
    graph.add_node(GATEWAY, kind="gateway")
    for name, host in system.hosts.items():
        if name == GATEWAY:
            continue
        graph.add_node(name, kind="service")
        if host.db is not None:
            graph.add_node(f"db:{name}", kind="database")
            graph.add_edge(name, f"db:{name}", kind="owns")
        for endpoint in sorted(host.endpoints):
            graph.add_node(endpoint, kind="endpoint", service=name)
            graph.add_edge(name, endpoint, kind="owns")
    for route, target in ROUTES.items():
        graph.add_node(route, kind="route")
        graph.add_edge(CLIENT, route, kind="route")
        if target.needs_token:
            graph.add_edge(route, "queue.check", kind="token-check")
        graph.add_edge(route, target.endpoint, kind="route")
    for module in SERVICE_MODULES.values():
        for endpoint, callees in module.CALLS.items():
            for callee in callees:
                graph.add_edge(endpoint, callee, kind="sync")
    topic_of = topics_by_event_type()
    for service, module in SERVICE_MODULES.items():
        for event_type in module.PUBLISHES:
            graph.add_node(event_type, kind="topic", topic=topic_of[event_type])
            graph.add_edge(service, event_type, kind="publish")
    for event_type, groups in system.broker.interests.items():
        graph.add_node(event_type, kind="topic", topic=topic_of.get(event_type, ""))
        for group in groups:
            graph.add_edge(event_type, group, kind="subscribe")
    return graph


def _sync_graph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    sync = nx.DiGraph()
    for a, b, kind in graph.edges(data="kind"):
        if kind in ("route", "token-check", "sync"):
            sync.add_edge(a, b)
    return sync


@dataclass(frozen=True)
class ArchitectureReport:
    scenario: str
    call_chains: dict[str, list[list[str]]]
    """route -> its synchronous chains (client → route → endpoint → endpoint ...)"""
    depth: dict[str, int]
    """route -> synchronous hops below the gateway on its longest chain"""
    blast_radius: dict[str, dict[str, list[str]]]
    """service -> {"routes_failing": [...], "stalled_subscribers": [...]} when it is down"""
    sync_cycles: list[list[str]]
    unconsumed_events: list[str]
    unfed_subscriptions: list[str]
    fan_out: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "call_chains": self.call_chains,
            "depth": self.depth,
            "blast_radius": self.blast_radius,
            "sync_cycles": self.sync_cycles,
            "unconsumed_events": self.unconsumed_events,
            "unfed_subscriptions": self.unfed_subscriptions,
            "fan_out": self.fan_out,
        }


def analyze(scenario: Scenario) -> ArchitectureReport:
    graph = build_graph(scenario)
    sync = _sync_graph(graph)
    chains: dict[str, list[list[str]]] = {}
    depth: dict[str, int] = {}
    for route in ROUTES:
        leaves = [n for n in nx.descendants(sync, route) if sync.out_degree(n) == 0]
        paths = sorted(
            (path for leaf in leaves for path in nx.all_simple_paths(sync, route, leaf)),
            key=lambda p: (-len(p), p),
        )
        chains[route] = [[CLIENT, GATEWAY, *path[1:]] for path in paths]
        depth[route] = max((len(path) - 1 for path in paths), default=0)
    services = [n for n, kind in graph.nodes(data="kind") if kind == "service"]
    blast: dict[str, dict[str, list[str]]] = {}
    for service in sorted(services):
        failing = sorted(
            route for route in ROUTES
            if any(_service_of(n) == service for n in nx.descendants(sync, route))
        )
        published = [e for _, e, kind in graph.out_edges(service, data="kind") if kind == "publish"]
        stalled = sorted({f"{group} ({event})" for event in published
                          for _, group, kind in graph.out_edges(event, data="kind") if kind == "subscribe"})
        blast[service] = {"routes_failing": failing, "stalled_subscribers": stalled}
    blast[GATEWAY] = {"routes_failing": sorted(ROUTES), "stalled_subscribers": []}
    events = [n for n, kind in graph.nodes(data="kind") if kind == "topic"]
    publishers = {e for _, e, kind in graph.edges(data="kind") if kind == "publish"}
    consumed = {e for e, _, kind in graph.edges(data="kind") if kind == "subscribe"}
    fan_out = {e: sorted(g for _, g, kind in graph.out_edges(e, data="kind") if kind == "subscribe") for e in sorted(events)}
    return ArchitectureReport(
        scenario=scenario.name,
        call_chains=chains,
        depth=depth,
        blast_radius=blast,
        sync_cycles=[list(c) for c in nx.simple_cycles(sync)],
        unconsumed_events=sorted(e for e in events if e in publishers and e not in consumed),
        unfed_subscriptions=sorted(e for e in events if e in consumed and e not in publishers),
        fan_out=fan_out,
    )


def write_graphml(graph: nx.MultiDiGraph, path: str | IO[bytes]) -> None:
    """GraphML for Gephi, yEd or networkx (attributes as strings)."""
    plain = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        plain.add_node(node, **{k: str(v) for k, v in data.items()})
    for a, b, data in graph.edges(data=True):
        plain.add_edge(a, b, **{k: str(v) for k, v in data.items()})
    nx.write_graphml(plain, path)


# Hand-placed so the picture reads left to right: client, gateway, services, then events.
_POSITIONS = {
    CLIENT: (0.0, 2.5), GATEWAY: (1.5, 2.5), "queue": (3.6, 4.7), "reservation": (3.6, 2.5),
    "concert": (3.6, 0.2), "point": (6.4, 4.0), "data_platform": (6.4, 0.2),
}


def architecture_figure(scenario: Scenario) -> Figure:
    """Services as boxes, synchronous calls as solid arrows labelled with the endpoint, events as
    dashed arrows from publisher to subscriber labelled with the event type."""
    graph = build_graph(scenario)
    figure = Figure(figsize=(12, 6.5))
    axes = figure.add_subplot()
    axes.set_axis_off()
    sync_edges: dict[tuple[str, str], list[str]] = {}
    for route, target in ROUTES.items():
        sync_edges.setdefault((GATEWAY, target.service), []).append(target.endpoint)
        if target.needs_token:
            sync_edges.setdefault((GATEWAY, "queue"), [])
    sync_edges.setdefault((CLIENT, GATEWAY), []).append("public API")
    sync_edges[(GATEWAY, "queue")] = sorted(set(sync_edges[(GATEWAY, "queue")]) | {"queue.check"})
    for a, b, kind in graph.edges(data="kind"):
        if kind == "sync":
            sync_edges.setdefault((_service_of(a), _service_of(b)), []).append(b)
    async_edges: dict[tuple[str, str], list[str]] = {}
    for event, group, kind in graph.edges(data="kind"):
        if kind == "subscribe":
            publisher = next((p for p, _, k in graph.in_edges(event, data="kind") if k == "publish"), None)
            if publisher:
                async_edges.setdefault((publisher, group), []).append(event.removesuffix("Event"))
    for (a, b), labels in sync_edges.items():
        _arrow(axes, a, b, "\n".join(sorted(set(labels))), "#1f77b4", "-", 0.0)
    for (a, b), labels in async_edges.items():
        _arrow(axes, a, b, "\n".join(sorted(set(labels))), "#9467bd", "--", -0.5)
    for name, (x, y) in _POSITIONS.items():
        colour = "#fff2cc" if name in (CLIENT, GATEWAY) else "#dae8fc"
        axes.text(x, y, name, ha="center", va="center", fontsize=11, fontweight="bold",
                  bbox={"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "#555555"}, zorder=3)
    unconsumed = analyze(scenario).unconsumed_events
    if unconsumed:
        axes.text(-0.5, -0.8, "published, no subscriber: " + ", ".join(unconsumed), fontsize=8, color="#b45f06")
    axes.plot([], [], color="#1f77b4", label="synchronous call (endpoint)")
    axes.plot([], [], color="#9467bd", linestyle="--", label="event via the broker (type)")
    axes.legend(loc="upper left", fontsize=9, frameon=False)
    axes.set_xlim(-0.6, 7.2)
    axes.set_ylim(-0.9, 5.2)
    axes.set_title(f"Architecture of {scenario.name} (payment_flow={scenario.design.payment_flow})")
    return figure


def _arrow(axes: Any, a: str, b: str, label: str, colour: str, style: str, bend: float) -> None:
    (x0, y0), (x1, y1) = _POSITIONS[a], _POSITIONS[b]
    axes.annotate(
        "", xy=(x1, y1), xytext=(x0, y0),
        arrowprops={"arrowstyle": "-|>", "color": colour, "linestyle": style, "linewidth": 1.3,
                    "shrinkA": 28, "shrinkB": 28, "connectionstyle": f"arc3,rad={bend}"},
        zorder=1,
    )
    # A straight arrow's label sits a third of the way along, clear of what crowds its target; a
    # curved one's on the arc's midpoint: the chord's midpoint moved across by half the bend.
    along = 0.5 if bend else 0.35
    mx, my = x0 + along * (x1 - x0), y0 + along * (y1 - y0)
    axes.text(mx + bend / 2 * (y1 - y0), my - bend / 2 * (x1 - x0), label, fontsize=6.5, color=colour,
              ha="center", va="center", bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.5}, zorder=2)


def architecture_figure_png(scenario: Scenario) -> bytes:
    return figure_png(architecture_figure(scenario))


def _lines(title: str, items: Iterable[str]) -> list[str]:
    items = list(items)
    return [title, *(f"  {item}" for item in items)] if items else [title, "  (none)"]


def format_text(report: ArchitectureReport) -> str:
    lines = [f"Architecture of {report.scenario}", ""]
    lines.append("Synchronous call chains (depth = hops below the gateway):")
    for route, chains in report.call_chains.items():
        lines.append(f"  {route}  depth {report.depth[route]}")
        lines += [f"      {' -> '.join(chain)}" for chain in chains]
    lines.append("")
    lines.append("Blast radius (a service down):")
    for service, radius in report.blast_radius.items():
        routes = radius["routes_failing"]
        lines.append(f"  {service}: {len(routes)} public route(s) fail" + (f": {', '.join(routes)}" if routes else ""))
        if radius["stalled_subscribers"]:
            lines.append(f"      stalls: {', '.join(radius['stalled_subscribers'])}")
    lines.append("")
    lines += _lines("Synchronous cycles:", (" -> ".join(c) for c in report.sync_cycles))
    lines += _lines("Events published with no subscriber:", report.unconsumed_events)
    lines += _lines("Subscriptions to events nobody publishes:", report.unfed_subscriptions)
    return "\n".join(lines)
