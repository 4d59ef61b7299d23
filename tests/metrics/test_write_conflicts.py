"""Write conflicts in the metrics (``write_conflicts`` of summary.json) and in the capacity section
of the run report: in total, per database with its share of commit attempts, per unit of work, and
per table and row when the trace names the rows."""

from __future__ import annotations

from typing import Any

import pytest

from concertsim.api import RunOutcome, run
from concertsim.metrics.records import records_by_kind
from concertsim.metrics.write_conflicts import write_conflicts
from concertsim.reports.document.blocks import Heading, Paragraph, Table
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.service_metrics import hot_row_blocks, service_metrics_blocks
from concertsim.sim.infrastructure.trace import TraceRecord
from tests.conftest import small_scenario


def record(seq: int, kind: str, party: str, **data: Any) -> TraceRecord:
    return TraceRecord(seq, float(seq), kind, party, None, data)


@pytest.fixture(scope="module")
def crowd() -> RunOutcome:
    """300 users in 2 s: Queue's transactions meet each other's writes."""
    return run(small_scenario("workload.users=300", "workload.arrival=flash_crowd", "workload.flash_window=2"))


def test_conflicts_are_counted_per_database_with_replicas_together_and_per_unit_of_work() -> None:
    records = [
        record(1, "tx.conflict", "queue", label="queue.issue_token"),
        record(2, "tx.conflict", "queue#2", label="queue.leave"),
        record(3, "tx.conflict", "queue#1", label="queue.issue_token"),
        record(4, "tx.conflict", "concert", label="concert<-ReservationExpiredEvent"),
        *(record(10 + i, "tx.commit", "queue#1", label="queue.leave") for i in range(5)),
        record(20, "tx.commit", "concert", label="concert.hold"),
    ]
    counted = write_conflicts(records_by_kind(records))
    assert counted["total"] == 4
    assert counted["by_database"] == {
        "queue": {"conflicts": 3, "commits": 5, "share": 0.375},
        "concert": {"conflicts": 1, "commits": 1, "share": 0.5},
    }
    assert list(counted["by_work"].items()) == [
        ("queue.issue_token", 2), ("concert<-ReservationExpiredEvent", 1), ("queue.leave", 1)]
    assert counted["by_table"] is None and counted["hot_rows"] is None


def test_conflicts_that_name_their_row_are_counted_per_table_and_row() -> None:
    records = [
        record(1, "tx.conflict", "queue", label="queue.issue_token", table="state", row="state"),
        record(2, "tx.conflict", "queue#2", label="queue.leave", table="state", row="state"),
        record(3, "tx.conflict", "queue", label="queue.leave", table="tokens", row="tok-1"),
    ]
    counted = write_conflicts(records_by_kind(records))
    assert counted["by_table"] == {"queue.state": 2, "queue.tokens": 1}
    assert counted["hot_rows"] == [["queue", "state", "state", 2], ["queue", "tokens", "tok-1", 1]]


def test_a_run_counts_every_conflict_its_trace_records(crowd) -> None:
    conflicts = list(crowd.result.trace.of_kind("tx.conflict"))
    counted = crowd.metrics["write_conflicts"]
    assert counted["total"] == len(conflicts) > 0
    assert sum(d["conflicts"] for d in counted["by_database"].values()) == counted["total"]
    assert sum(counted["by_work"].values()) == counted["total"]
    assert next(iter(counted["by_database"])) == "queue"


def test_the_capacity_section_shows_the_hot_rows(crowd) -> None:
    blocks = service_metrics_blocks(crowd, with_figure=False)
    start = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.text.startswith("Capacity"))
    heading = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.text == "Hot rows: write conflicts")
    assert heading > start
    assert all(not isinstance(b, Heading) or b.level > 3 for b in blocks[start + 1:heading])
    counted = crowd.metrics["write_conflicts"]
    lead = blocks[heading + 1]
    assert isinstance(lead, Paragraph) and lead.text.startswith(f"{counted['total']} write conflicts")
    queue = counted["by_database"]["queue"]
    assert f"Queue's database had {queue['conflicts']} of them" in lead.text
    table = blocks[heading + 2]
    assert isinstance(table, Table) and table.rows[0][:3] == ["queue", str(queue["conflicts"]), str(queue["commits"])]
    markdown = to_markdown(blocks)
    for label, count in counted["by_work"].items():
        assert f"| {label.replace('<', '&lt;')} | {count} |" in markdown


def test_a_run_without_conflicts_says_so() -> None:
    metrics = {"write_conflicts": {"total": 0, "by_database": {}, "by_work": {}, "by_table": None, "hot_rows": None}}
    assert to_markdown(hot_row_blocks(metrics, 5)).startswith("#### Hot rows: write conflicts\n\nNo write conflict")


def test_a_runs_conflicts_name_the_table_and_row_they_met(crowd) -> None:
    conflicts = list(crowd.result.trace.of_kind("tx.conflict"))
    assert conflicts and all(isinstance(r.data["table"], str) and isinstance(r.data["row"], str) for r in conflicts)
    counted = crowd.metrics["write_conflicts"]
    assert sum(counted["by_table"].values()) == counted["total"]
    hottest = counted["hot_rows"][0]
    assert hottest[0] == "queue" and hottest[3] == max(count for *_, count in counted["hot_rows"])
    markdown = to_markdown(service_metrics_blocks(crowd, with_figure=False))
    assert "The hottest rows:" in markdown
    assert f"| queue | {hottest[1]} | {hottest[2]} | {hottest[3]} |" in markdown
