"""Architecture analysis: the graph of services, endpoints, topics and databases, read from the
simulator's own wiring for a scenario (nothing is described twice), and what it tells an architect
(seed 2, 3 and 5): synchronous call chains and their depth, each component's blast radius,
synchronous cycles, events nobody consumes, subscriptions nobody feeds and the fan-out of each event.

The wiring is read by building the system of the scenario (``build_system``), which starts no
simulated time: the hosts' endpoints, the gateway's routes, the broker's consumer groups per event
type, the jobs, and the service modules' ``CALLS`` and ``PUBLISHES``. A design switch that changes
the wiring (``payment_flow``, ``compensation``, ``hold_expiry``) therefore changes the graph. The
figure of the graph is drawn by :mod:`concertsim.reports.architecture.figure`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import networkx as nx

from concertsim.models import concert as concert_model
from concertsim.models import data_platform as data_platform_model
from concertsim.models import points as points_model
from concertsim.models import queue as queue_model
from concertsim.models import reservations as reservations_model
from concertsim.scenarios.schema import Scenario
from concertsim.sim.hosting.gateway import ROUTES
from concertsim.sim.infrastructure.storage import INBOX, OUTBOX
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.system import SERVICE_MODULES, build_system
from concertsim.sim.services import orchestrator

__all__ = [
    "build_graph",
    "analyze",
    "analyze_graph",
    "ArchitectureReport",
    "write_graphml",
    "nodes_of_kind",
    "edges_of_kind",
    "switch_word",
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
    calls = [module.CALLS for module in SERVICE_MODULES.values()]
    if scenario.design.payment_flow == "orchestration":
        calls.append(orchestrator.CALLS)
    for callers in calls:
        for caller, callees in callers.items():
            for callee in callees:
                if not graph.has_edge(endpoint_node(caller), endpoint_node(callee)):
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


def nodes_of_kind(graph: nx.MultiDiGraph, kind: str) -> list[str]:
    return [n for n, k in graph.nodes(data="kind") if k == kind]


def edges_of_kind(graph: nx.MultiDiGraph, kind: str) -> list[tuple[str, str]]:
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
    routes = nodes_of_kind(graph, "route")
    service_of = dict(graph.nodes(data="service"))
    chains = {route: [[CLIENT, GATEWAY, *path[1:]] for path in _paths_from(sync, route)] for route in routes}
    depth = {route: max((len(c) - 2 for c in chains[route]), default=0) for route in routes}

    publishers: dict[str, list[str]] = {}
    for service, event in edges_of_kind(graph, "publish"):
        publishers.setdefault(event, []).append(service)
    fan_out = {e: sorted(g for _, g, k in graph.out_edges(e, data="kind") if k == "subscribe")
               for e in sorted(nodes_of_kind(graph, "topic"))}

    services = nodes_of_kind(graph, "service")
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


def switch_word(value: Any) -> str:
    """A design setting as the text says it: "on"/"off" for a switch, its value otherwise."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


# --- text -----------------------------------------------------------------------------------------


def format_text(report: ArchitectureReport) -> str:
    """The report for a terminal: summary, call chains, blast radius, fan-out and the findings."""
    lines = [
        f"Architecture of {report.scenario}  ("
        + ", ".join(f"{k}={switch_word(v)}" for k, v in report.design.items()
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
