"""Architecture analysis read from the simulator's wiring."""

from __future__ import annotations

import networkx as nx

from concertsim.reports.architecture import analyze, architecture_figure_png, build_graph, format_text, write_graphml
from concertsim.scenarios.loader import load_builtin

PAYMENTS = "POST /api/v1/payments"


def test_payment_chain_reaches_point_two_hops_below_the_gateway() -> None:
    report = analyze(load_builtin())
    assert report.depth[PAYMENTS] == 2
    assert ["client", "gateway", "reservation.pay", "point.use"] in report.call_chains[PAYMENTS]


def test_blast_radius_follows_synchronous_calls_only() -> None:
    radius = analyze(load_builtin()).blast_radius
    assert PAYMENTS in radius["point"]["routes_failing"]
    assert "GET /api/v1/concerts/dates" not in radius["point"]["routes_failing"]
    assert {"GET /api/v1/concerts/dates", "POST /api/v1/reservations", PAYMENTS} <= set(radius["queue"]["routes_failing"])
    assert radius["data_platform"]["routes_failing"] == []
    assert any(s.startswith("data_platform") for s in radius["reservation"]["stalled_subscribers"])


def test_no_synchronous_cycles() -> None:
    assert analyze(load_builtin()).sync_cycles == []


def test_point_used_has_a_subscriber_only_in_the_choreography_flow() -> None:
    assert "PointUsedEvent" in analyze(load_builtin()).unconsumed_events
    choreography = analyze(load_builtin(overrides=["design.payment_flow=choreography"]))
    assert "PointUsedEvent" not in choreography.unconsumed_events
    assert "reservation" in choreography.fan_out["PointUsedEvent"]


def test_without_compensation_point_no_longer_listens_for_failures() -> None:
    report = analyze(load_builtin(overrides=["design.compensation=false"]))
    assert report.fan_out["ReservationFailedEvent"] == ["concert"]


def test_graphml_round_trips(tmp_path) -> None:
    graph = build_graph(load_builtin())
    write_graphml(graph, tmp_path / "a.graphml")
    again = nx.read_graphml(tmp_path / "a.graphml")
    assert again.number_of_nodes() == graph.number_of_nodes()
    assert again.nodes["point.use"]["kind"] == "endpoint"


def test_figure_and_text_render() -> None:
    assert architecture_figure_png(load_builtin()).startswith(b"\x89PNG")
    assert "Blast radius" in format_text(analyze(load_builtin()))
