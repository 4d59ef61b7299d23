"""The run report's replicas section: requests per replica and each rebalance with what it moved,
shown only when a service runs as several replicas."""

from __future__ import annotations

from concertsim.api import run
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.replicas import replica_blocks, replica_rows
from tests.conftest import small_scenario


def test_the_report_tables_requests_per_replica_and_each_rebalance() -> None:
    scenario = small_scenario("services.point.replicas=2", "broker.session_timeout=3",
                              "faults=[{at: 10, kind: crash, target: 'point#2', duration: 8}]")
    text = to_markdown(replica_blocks(run(scenario).metrics))
    assert "| point | point#1 |" in text and "| point | point#2 |" in text
    assert "point#2 left (session timeout)" in text and "point#2 joined" in text
    assert "reservation-events/1 point#2→point#1" in text
    assert replica_rows(scenario)[0][:2] == ["replicas", "point × 2"]


def test_a_run_without_replicas_has_no_replicas_section() -> None:
    scenario = small_scenario()
    assert replica_blocks(run(scenario).metrics) == [] and replica_rows(scenario) == []
