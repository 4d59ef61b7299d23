"""Architecture analysis, read from the simulator's own wiring (seed 2, 3, 5)."""

from __future__ import annotations

import json

import networkx as nx
import pytest

from concertsim.reports.architecture.analysis import (
    EDGE_KINDS,
    NODE_KINDS,
    ArchitectureReport,
    analyze,
    analyze_graph,
    build_graph,
    format_text,
    write_graphml,
)
from concertsim.reports.architecture.figure import architecture_figure_png
from concertsim.scenarios.loader import load_builtin
from concertsim.sim.hosting.gateway import ROUTES
from concertsim.sim.services import reservation as reservation_service

PAYMENTS = "POST /api/v1/payments"
DATES = "GET /api/v1/concerts/dates"
PROTECTED = sorted(route for route, target in ROUTES.items() if target.needs_token)


@pytest.fixture(scope="module")
def graph() -> nx.MultiDiGraph:
    return build_graph(load_builtin())


@pytest.fixture(scope="module")
def report(graph: nx.MultiDiGraph) -> ArchitectureReport:
    return analyze_graph(graph)


def test_every_node_and_edge_is_typed(graph: nx.MultiDiGraph) -> None:
    assert {kind for _, kind in graph.nodes(data="kind")} == set(NODE_KINDS)
    assert {kind for _, _, kind in graph.edges(data="kind")} == set(EDGE_KINDS)


def test_the_gateway_owns_every_public_route_and_each_service_its_database(graph: nx.MultiDiGraph) -> None:
    owned_by_gateway = {b for _, b, kind in graph.out_edges("gateway", data="kind") if kind == "owns"}
    assert owned_by_gateway == set(ROUTES)
    databases = {n for n, kind in graph.nodes(data="kind") if kind == "database"}
    assert databases == {f"db:{s}" for s in ("reservation", "point", "queue", "concert", "data_platform")}
    point_tables = graph.nodes["db:point"]["tables"].split(", ")
    assert {"accounts", "ledger", "outbox", "inbox"} <= set(point_tables)


def test_the_graph_follows_the_design_switches() -> None:
    swept = build_graph(load_builtin()).nodes["reservation"]["jobs"]
    unswept = build_graph(load_builtin(overrides=["design.hold_expiry=false"])).nodes["reservation"]["jobs"]
    assert "hold-expiry-sweeper" in swept
    assert unswept == ""


def test_an_orchestrated_payment_commands_the_refund_itself() -> None:
    orchestrated = build_graph(load_builtin(overrides=["design.payment_flow=orchestration"]))
    assert orchestrated.has_edge("reservation.pay", "point.refund")
    assert not build_graph(load_builtin()).has_edge("reservation.pay", "point.refund")


def test_payment_chain_goes_through_the_token_check_then_reservation_to_point(report: ArchitectureReport) -> None:
    assert report.depth[PAYMENTS] >= 2
    assert report.call_chains[PAYMENTS] == [
        ["client", "gateway", "queue.check"],
        ["client", "gateway", "reservation.pay", "point.use"],
    ]
    assert report.max_depth == 2


def test_point_down_breaks_payments_but_not_browsing(report: ArchitectureReport) -> None:
    failing = report.blast_radius["point"]["routes_failing"]
    assert PAYMENTS in failing
    assert DATES not in failing


def test_queue_down_breaks_every_token_protected_route(report: ArchitectureReport) -> None:
    failing = report.blast_radius["queue"]["routes_failing"]
    assert set(PROTECTED) <= set(failing)
    assert "GET /api/v1/concerts/ranking" not in failing


def test_asynchronous_consumers_never_fail_a_route_they_stall(report: ArchitectureReport) -> None:
    assert report.blast_radius["data_platform"]["routes_failing"] == []
    assert report.blast_radius["broker"]["routes_failing"] == []
    stalled = report.blast_radius["reservation"]["stalled_subscriptions"]
    assert stalled["data_platform"] == ["ReservationCompletedEvent"]
    assert "ReservationFailedEvent" in stalled["point"]
    assert report.blast_radius["gateway"]["routes_failing"] == list(ROUTES)


def test_no_synchronous_cycles(report: ArchitectureReport) -> None:
    assert report.sync_cycles == []


def test_a_synchronous_call_back_up_the_chain_is_reported_as_a_cycle(graph: nx.MultiDiGraph) -> None:
    looped = graph.copy()
    looped.add_edge("point.use", "reservation.pay", kind="sync")
    assert analyze_graph(looped).sync_cycles == [["point.use", "reservation.pay"]]


def test_a_call_to_an_endpoint_no_host_serves_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(reservation_service.CALLS, "reservation.get", ("ghost.lookup",))
    assert analyze(load_builtin()).unserved_endpoints == ["ghost.lookup"]


def test_point_used_has_a_subscriber_only_in_the_choreography_flow(report: ArchitectureReport) -> None:
    assert "PointUsedEvent" in report.unconsumed_events
    assert report.fan_out["PointUsedEvent"] == []
    choreography = analyze(load_builtin(overrides=["design.payment_flow=choreography"]))
    assert "PointUsedEvent" not in choreography.unconsumed_events
    assert choreography.fan_out["PointUsedEvent"] == ["reservation"]
    assert choreography.blast_radius["point"]["stalled_subscriptions"] == {
        "reservation": ["PointRefundedEvent", "PointUsedEvent"]
    }


def test_without_compensation_point_no_longer_listens_for_failures() -> None:
    report = analyze(load_builtin(overrides=["design.compensation=false"]))
    assert report.fan_out["ReservationFailedEvent"] == ["concert"]
    assert "point" not in report.blast_radius["reservation"]["stalled_subscriptions"]


def test_every_subscription_is_fed(report: ArchitectureReport) -> None:
    assert report.unfed_subscriptions == []
    assert report.fan_out["ReservationCompletedEvent"] == ["concert", "data_platform", "queue"]


def test_graphml_round_trips(graph: nx.MultiDiGraph, tmp_path) -> None:
    path = tmp_path / "architecture.graphml"
    write_graphml(graph, path)
    again = nx.read_graphml(path)
    assert again.number_of_nodes() == graph.number_of_nodes()
    assert again.number_of_edges() == graph.number_of_edges()
    assert again.nodes["point.use"]["kind"] == "endpoint"
    assert again.nodes[PAYMENTS]["needs_token"] == 1
    assert sorted(k for _, _, k in again.edges(data="kind")) == sorted(k for _, _, k in graph.edges(data="kind"))


def test_report_is_json_ready(report: ArchitectureReport) -> None:
    data = json.loads(json.dumps(report.to_json()))
    assert data["depth"][PAYMENTS] == report.depth[PAYMENTS]
    assert data["design"]["payment_flow"] == "sync"


def test_text_has_every_section_and_names_the_unconsumed_events(report: ArchitectureReport) -> None:
    text = format_text(report)
    for heading in ("Synchronous call chains", "Blast radius", "Synchronous cycles",
                    "Events published with no subscriber", "Subscriptions to events nobody publishes"):
        assert heading in text
    unconsumed = text.split("Events published with no subscriber\n", 1)[1].split("\n\n", 1)[0]
    assert "PointUsedEvent" in unconsumed


@pytest.mark.parametrize("overrides", [[], ["design.payment_flow=choreography", "design.compensation=false"]])
def test_figure_renders_png(overrides: list[str]) -> None:
    assert architecture_figure_png(load_builtin(overrides=overrides)).startswith(b"\x89PNG")
