"""Capacity metrics: each pool's utilisation, queue and waits, which saturated first and when,
and the report's capacity section."""

from __future__ import annotations

from concertsim.api import run
from concertsim.metrics.resources import first_saturated
from concertsim.reports.plotting.capacity import capacity_png
from concertsim.reports.run.service_metrics import service_metrics_blocks
from concertsim.reports.document.blocks import Paragraph


def paragraphs(outcome) -> str:
    return " ".join(b.text for b in service_metrics_blocks(outcome, with_figure=False) if isinstance(b, Paragraph))


def test_a_one_worker_queue_saturates_first_and_the_report_says_when() -> None:
    outcome = run("small-opening", overrides=["services.queue.workers=1", "workload.users=60", "workload.flash_window=1",
                                              "services.queue.service_time={kind: constant, value: 0.02}"])
    resources = outcome.metrics["resources"]
    (first, second), *_ = first_saturated(resources)
    assert first == "queue.workers"
    row = resources[first]
    assert row["capacity"] == 1 and row["peak_utilisation"] >= 0.9 and row["waits"] > 0 and row["max_wait_ms"] > 0
    assert row["series"]["utilisation"][second] >= 0.9
    assert f"queue.workers at {second} s" in paragraphs(outcome)
    assert capacity_png(resources, outcome.result) is not None


def test_a_roomy_run_saturates_nothing_and_draws_no_capacity_figure() -> None:
    outcome = run("small-opening", overrides=["workload.users=5"])
    resources = outcome.metrics["resources"]
    assert first_saturated(resources) == []
    assert {"gateway.workers", "point.connections"} <= set(resources)
    assert all(0 <= r["utilisation"] <= r["peak_utilisation"] <= 1 for r in resources.values())
    assert "No resource saturated" in paragraphs(outcome)
    assert capacity_png(resources, outcome.result) is None
