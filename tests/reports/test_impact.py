"""Under every verdict of a run report, one line of what the run did to its users and pools:
bookings, p95 latency, failed and unknown payments, the first pool to saturate and when, and the
faults with what they cost."""

from __future__ import annotations

import pytest

from concertsim.api import RunOutcome, run
from concertsim.metrics.headline import headline_measures
from concertsim.reports.document.blocks import Block, Heading, Paragraph, Verdict
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.report import run_blocks
from tests.conftest import small_scenario

LOST_USE_REPLIES = [{"at": 0, "kind": "drop", "target": "reply", "duration": 100,
                     "match": {"message_type": "point.use"}}]


@pytest.fixture(scope="module")
def saturated() -> RunOutcome:
    """300 users in 2 s against a queue of one worker: the queue's pool saturates at 2 s."""
    return run(small_scenario("workload.users=300", "workload.arrival=flash_crowd", "workload.flash_window=2",
                              "services.queue.workers=1", "rules.queue_capacity=100"))


@pytest.fixture(scope="module")
def lost_replies() -> RunOutcome:
    """Every reply of point.use lost: payments fail, and the design without compensation breaks."""
    return run(small_scenario("design.compensation=false", "workload.users=4", faults=LOST_USE_REPLIES))


def first_screen(blocks: list[Block]) -> list[Block]:
    end = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.level == 2)
    return blocks[:end]


def impact_under_the_verdict(outcome: RunOutcome) -> str:
    screen = first_screen(run_blocks(outcome, []))
    at = next(i for i, b in enumerate(screen) if isinstance(b, Verdict))
    line = screen[at + 1]
    assert isinstance(line, Paragraph)
    assert [b for b in screen if isinstance(b, Paragraph) and b.text.startswith("Impact:")] == [line]
    return line.text


def test_a_saturated_run_says_under_its_verdict_which_pool_saturated_first_and_when(saturated) -> None:
    assert saturated.holds
    p95 = headline_measures(saturated.result, saturated.metrics)["latency_p95_ms"]
    booked = saturated.metrics["funnel"]["confirmed"]
    assert impact_under_the_verdict(saturated) == (
        f"Impact: {booked} of 300 users booked; p95 latency {p95:,.0f} ms; payments 0 failed, 0 unknown; "
        "queue workers saturated at 2 s; no faults."
    )


def test_a_failing_run_says_under_its_verdict_what_the_payments_and_the_faults_cost(lost_replies) -> None:
    assert not lost_replies.holds
    line = impact_under_the_verdict(lost_replies)
    losses = lost_replies.metrics["funnel_losses"]
    strikes = lost_replies.metrics["faults"]["message_strikes"]
    assert losses["payment-failed"] > 0 and strikes > 0
    assert f"payments {losses['payment-failed']} failed, {losses['payment-unknown']} unknown" in line
    assert f"1 fault window striking {strikes} messages, quiescent" in line
    assert "no pool saturated" in line


def test_the_impact_line_comes_before_the_first_section_in_markdown_and_html(saturated) -> None:
    blocks = run_blocks(saturated, [])
    markdown, html = to_markdown(blocks), to_html(blocks, "t")
    for text, section in ((markdown, "## Scenario and design"), (html, ">Scenario and design<")):
        assert text.index("queue workers saturated at 2 s") < text.index(section)


def test_a_fault_that_strikes_no_message_one_by_one_is_counted_as_its_window() -> None:
    outage = run(small_scenario("workload.users=4", faults=[{"at": 5, "kind": "crash", "target": "point", "duration": 10}]))
    assert outage.metrics["faults"]["message_strikes"] == 0
    assert "; 1 fault window, quiescent " in impact_under_the_verdict(outage)
