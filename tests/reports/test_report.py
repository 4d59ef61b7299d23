"""Run reports: both formats, every figure, escaped user strings, no external resources."""

from __future__ import annotations

import re

import pytest

from concertsim.api import RunOutcome
from concertsim.checks import check_run
from concertsim.reports.figures import render_run_figures
from concertsim.reports.mermaid import sequence_diagram
from concertsim.reports.outputs import OutputDir, OutputDirError
from concertsim.reports.report import write_run_report
from concertsim.reports.saga import saga_of
from concertsim.sim.runner import run_scenario
from tests.conftest import small_scenario


def outcome_of(*overrides: str, **fields) -> RunOutcome:
    result = run_scenario(small_scenario(*overrides, **fields))
    return RunOutcome(result, check_run(result))


@pytest.fixture(scope="module")
def failing() -> RunOutcome:
    return outcome_of("design.hold_expiry=false", "settle.deadline=60")


def test_every_figure_renders_for_a_failing_run(failing: RunOutcome) -> None:
    figures = render_run_figures(failing)
    assert [f.name for f in figures] == ["latency-cdf", "throughput", "backlog", "convergence", "seat-timeline", "message-flow"]
    assert all(f.png.startswith(b"\x89PNG") and f.caption for f in figures)


def test_figures_render_for_an_empty_run() -> None:
    assert all(f.png.startswith(b"\x89PNG") for f in render_run_figures(outcome_of("workload.users=0")))


def test_report_explains_the_violation_in_both_formats(failing: RunOutcome, tmp_path) -> None:
    write_run_report(OutputDir(tmp_path).prepare(), failing)
    markdown = (tmp_path / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    for text in (markdown, page):
        assert "seats-released-on-expiry" in text and "sequenceDiagram" in text
    assert "```mermaid" in markdown
    assert (tmp_path / "message-flow.png").exists()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the page must open offline"
    assert page.count("data:image/png;base64,") == 6


def test_strings_from_the_scenario_are_escaped(tmp_path) -> None:
    hostile = outcome_of(name="<script>alert(1)</script>", description="<img src=x onerror=alert(2)>")
    write_run_report(OutputDir(tmp_path).prepare(), hostile)
    page = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in (tmp_path / "report.md").read_text()


def test_mermaid_diagram_uses_known_participants_and_safe_text(failing: RunOutcome) -> None:
    saga = saga_of(failing.result, next(v.saga for verdict in failing.verdicts for v in verdict.violations if v.saga))
    diagram = sequence_diagram(saga)
    lines = diagram.splitlines()
    assert lines[0] == "sequenceDiagram"
    participants = {line.split()[-1] for line in lines if line.strip().startswith("participant")}
    for line in lines[1:]:
        arrow = re.match(r"\s+(\w+)(->>|-->>|-\)|--x|-x)(\w+): (.*)", line)
        if arrow:
            assert {arrow.group(1), arrow.group(3)} <= participants
            assert ";" not in arrow.group(4) and "#" not in arrow.group(4)


def test_an_output_directory_of_other_files_is_refused(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputDirError):
        OutputDir(tmp_path).prepare()


def test_a_previous_run_is_replaced_not_mixed(tmp_path) -> None:
    first = OutputDir(tmp_path).prepare()
    first.write_text("stale.txt", "old run")
    OutputDir(tmp_path).prepare().write_text("summary.json", "{}")
    assert not (tmp_path / "stale.txt").exists()
