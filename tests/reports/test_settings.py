"""The run report's settings: those that differ from the defaults in view, the rest folded away;
a switch that cannot take effect shown n/a with the reason; the design's sections called design
sections, never "seed"; and why fewer events are delivered than published, in words."""

from __future__ import annotations

import re

import pytest

from concertsim.api import RunOutcome, run
from concertsim.reports.document.blocks import Block, Folded, Heading, Table
from concertsim.reports.document.html import to_html
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.report import run_blocks
from concertsim.reports.run.sections import scenario_blocks
from tests.conftest import small_scenario


@pytest.fixture(scope="module")
def no_compensation() -> RunOutcome:
    return run(small_scenario("design.compensation=false"))


def settings_section(blocks: list[Block]) -> list[Block]:
    start = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.text == "Scenario and design")
    end = next(i for i, b in enumerate(blocks) if i > start and isinstance(b, Heading) and b.level == 2)
    return blocks[start + 1:end]


def rows(table: Block) -> dict[str, list]:
    assert isinstance(table, Table)
    return {row[0]: row for row in table.rows}


def test_only_the_settings_that_differ_from_the_defaults_are_in_view(no_compensation) -> None:
    shown, folded = settings_section(run_blocks(no_compensation, []))
    assert isinstance(folded, Folded)
    in_view, at_default = rows(shown), rows(folded.blocks[0])
    assert in_view["compensation"][1] == "off (changed from the default)"
    assert {"scenario", "description", "seed", "users"} <= in_view.keys()
    assert not {"payment flow", "publishing", "hold expiry", "faults"} & in_view.keys()
    assert {"payment flow", "publishing", "hold expiry", "faults"} <= at_default.keys()
    assert folded.summary == f"{len(at_default)} more settings, at their defaults"


def test_the_settings_at_their_defaults_are_folded_in_html_and_markdown(no_compensation) -> None:
    blocks = settings_section(run_blocks(no_compensation, []))
    html, markdown = to_html(blocks, "t"), to_markdown(blocks)
    for text in (html, markdown):
        folded = text[text.index("<details><summary>"):text.index("</details>")]
        assert "hold expiry" in folded and "compensation" not in folded
        assert "compensation" in text[:text.index("<details>")]


def test_a_switch_that_cannot_take_effect_is_not_applicable_with_the_reason() -> None:
    table = rows(scenario_blocks(small_scenario(), 1)[1].blocks[0])
    assert table["zombie fencing"][1] == "n/a: every service runs as one replica (set: on)"
    assert table["replication between the Point stores"][1] == (
        "n/a: no traffic is shifted to the split-out Point (design.point_shift=0) (set: acked)")
    replicated = rows(scenario_blocks(small_scenario("services.point.replicas=2"), 1)[1].blocks[0])
    assert replicated["zombie fencing"][1] == "on"


def test_the_design_is_cited_by_section_and_the_seed_is_the_random_seed(no_compensation) -> None:
    markdown = to_markdown(run_blocks(no_compensation, []))
    assert "(design section 4.2.2)" in markdown
    assert not re.search(r"\(seed \d", markdown)
    assert "| seed | 1 | the random seed:" in markdown


def test_the_report_says_why_fewer_events_are_delivered_than_published(no_compensation) -> None:
    events = no_compensation.metrics["events"]
    unsubscribed = events["without_subscriber"]
    assert set(unsubscribed) == {"PointChargedEvent", "PointUsedEvent", "QueueTokenActivatedEvent",
                                 "QueueTokenExpiredEvent"}
    assert events["never_delivered"] == 0
    subscriptions = no_compensation.result.subscriptions
    assert all(not subscriptions.get(event_type) for event_type in unsubscribed)
    markdown = to_markdown(run_blocks(no_compensation, []))
    line = next(line for line in markdown.splitlines() if line.startswith("| published vs delivered |"))
    alone = sum(unsubscribed.values())
    assert f"{alone} of the {events['published']} published events are of a type no consumer group subscribes to" in line
    assert f"the other {events['published'] - alone} go to every group subscribed to their type" in line
    assert f"{events['delivered']} first deliveries" in line


def test_a_measure_that_does_not_apply_is_shown_n_a_with_the_reason(no_compensation) -> None:
    markdown = to_markdown(run_blocks(no_compensation, []))
    line = next(line for line in markdown.splitlines() if line.startswith("| time to convergence |"))
    assert line.startswith("| time to convergence | n/a: no fault, so nothing to recover from (quiescent at ")
