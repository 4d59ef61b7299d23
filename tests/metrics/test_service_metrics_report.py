"""The run report's service metrics section and its staleness figure."""

from __future__ import annotations

import io

import matplotlib.image

from concertsim.reports.document.blocks import Heading, Image, Paragraph, Table
from concertsim.reports.run.report import run_blocks
from concertsim.reports.run.service_metrics import TOP_ROWS, service_metrics_blocks
from concertsim.reports.run.staleness_figure import FILE_NAME, staleness_figure, staleness_png
from tests.metrics.helpers import small_run

SECTIONS = [
    "Server-side time per endpoint",
    "Event processing per consumer group",
    "Read-model staleness",
    "Retries and failures",
    "Capacity: worker and connection pools",
    "Hot rows: write conflicts",
]
ONE_POINT_USE_REPLY_LOST = [
    {"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.use", "count": 1}},
]


def test_the_section_shows_each_metric_in_compact_tables_and_the_staleness_figure() -> None:
    blocks = service_metrics_blocks(small_run(faults=ONE_POINT_USE_REPLY_LOST))
    with_series = [*SECTIONS[:4], "Services and consumers over time", *SECTIONS[4:]]
    assert [b.text for b in blocks if isinstance(b, Heading)] == with_series
    tables = [b for b in blocks if isinstance(b, Table)]
    assert all(len(table.rows) <= TOP_ROWS for table in tables)
    retries = next(t for t in tables if "retries" in t.header)
    assert ["reservation", "point.use"] == retries.rows[0][:2]
    assert retries.rows[0][retries.header.index("timeouts")] == "1"
    images = [b for b in blocks if isinstance(b, Image)]
    assert [image.file_name for image in images] == [FILE_NAME, "service-series.png"]
    assert matplotlib.image.imread(io.BytesIO(images[0].png)).shape[0] > 100


def test_the_run_report_carries_the_section_after_the_metrics() -> None:
    headings = [b.text for b in run_blocks(small_run(), []) if isinstance(b, Heading)]
    start = headings.index("Metrics")
    assert headings[start + 2 : start + 2 + len(SECTIONS)] == SECTIONS  # after "Latency per endpoint"


def test_counts_are_drawn_on_an_integer_axis() -> None:
    outcome = small_run()
    figure = staleness_figure(outcome.result, outcome.metrics["staleness"])
    assert figure is not None
    counts = figure.axes[0]
    figure.canvas.draw()
    assert all(float(tick).is_integer() for tick in counts.get_yticks())
    assert counts.get_xlim()[1] == outcome.result.phases.ended_at


def test_a_run_without_any_change_gets_no_figure() -> None:
    outcome = small_run(workload={"users": 0})
    staleness = outcome.metrics["staleness"]
    assert all(model["changes"] == 0 for model in staleness.values())
    assert staleness_png(outcome.result, staleness) is None
    blocks = service_metrics_blocks(outcome)
    assert not [b for b in blocks if isinstance(b, Image)]
    assert any(isinstance(b, Paragraph) and b.text.startswith("No figure of staleness") for b in blocks)


def test_a_report_drawn_without_figures_gets_no_staleness_figure() -> None:
    blocks = service_metrics_blocks(small_run(), with_figure=False)
    assert not [b for b in blocks if isinstance(b, Image)]
    assert not any(isinstance(b, Paragraph) and b.text.startswith("No figure") for b in blocks)
