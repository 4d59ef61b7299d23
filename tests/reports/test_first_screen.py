"""A failure report leads with its cause: the broken promise, the design's difference from the
default that let it break, the fault schedule in words and the saga drawn; the exploration's
coverage counts its counterexample; a run says plainly when seats end unsold while users leave."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from concertsim.ablation import SAFEGUARDS
from concertsim.api import RunOutcome, run
from concertsim.checks.probes import probe_counts
from concertsim.exploration import Exploration
from concertsim.models import reservations
from concertsim.models.reservations import ReservationStatus, SeatStatus
from concertsim.reports.run.cause import cause_words, explanation
from concertsim.reports.run.design_switches import SWITCHES, design_changes
from concertsim.reports.document.blocks import Block, Heading, Image, Table, Verdict
from concertsim.reports.exploration.report import exploration_blocks
from concertsim.reports.run.figures import RenderedFigure
from concertsim.reports.document.markdown import to_markdown
from concertsim.reports.run.report import run_blocks
from concertsim.reports.run.unsold_seats import unsold_seats
from concertsim.scenarios.schema import Design
from tests.conftest import small_scenario

PNG = b"\x89PNG\r\n\x1a\nfake"
LOST_USE_REPLIES = [{"at": 0, "kind": "drop", "target": "reply", "duration": 100,
                     "match": {"message_type": "point.use"}}]


@pytest.fixture(scope="module")
def no_compensation() -> RunOutcome:
    """Without compensation, a deduction whose reply was lost stays taken when the payment fails."""
    return run(small_scenario("design.compensation=false", "workload.users=4", faults=LOST_USE_REPLIES))


def first_screen(blocks: list[Block]) -> list[Block]:
    """The blocks before the first section."""
    end = next(i for i, b in enumerate(blocks) if isinstance(b, Heading) and b.level == 2)
    return blocks[:end]


def rows_of(blocks: list[Block]) -> dict[str, Any]:
    table = next(b for b in blocks if isinstance(b, Table) and b.header == ["the failure", "in short"])
    return {row[0]: row[1] for row in table.rows}


def hero(saga: str) -> RenderedFigure:
    return RenderedFigure("message-flow", f"Message flow of {saga}", "the saga", PNG)


def changed_value(field: str) -> object:
    default = getattr(Design(), field)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int):
        return default + 1
    options = Design.model_fields[field].annotation.__args__  # a Literal
    return next(option for option in options if option != default)


def test_every_design_switch_has_its_words_in_one_table() -> None:
    assert sorted(s.field for s in SWITCHES) == sorted(Design.model_fields), "one row per switch, each once"
    for switch in SWITCHES:
        (change,) = design_changes(Design(**{switch.field: changed_value(switch.field)}))
        assert change.switch is switch and len(change.sentence) > 20 and switch.meaning
    assert design_changes(Design()) == []


def test_each_value_of_a_choice_has_its_own_words() -> None:
    for switch in SWITCHES:
        options = getattr(Design.model_fields[switch.field].annotation, "__args__", ())
        if not all(isinstance(option, str) for option in options) or not options:
            continue
        sentences = {switch.when_changed(option, getattr(Design(), switch.field)) for option in options}
        assert len(sentences) == len(options), switch.field
        for option in options:
            assert option in switch.meaning, f"{switch.field}: the scenario table explains {option}"


def test_the_switches_exist_for_what_the_ablation_says_they_protect() -> None:
    """Every design switch the ablation turns off is explained by the report; a migration's
    safeguards are fields of its plan (``migration.*``), reported with the plan, and a broker's
    (``broker.*``) are its settings, reported with its deliveries."""
    from concertsim.scenarios.infrastructure import BrokerSpec
    from concertsim.scenarios.migration_plan import MigrationPlan

    for safeguard in SAFEGUARDS:
        if safeguard.switch.startswith("migration."):
            assert safeguard.switch.removeprefix("migration.").split("=")[0] in MigrationPlan.model_fields
            continue
        if safeguard.switch.startswith("broker."):
            assert safeguard.switch.removeprefix("broker.").split("=")[0] in BrokerSpec.model_fields
            continue
        field, value = safeguard.switch.removeprefix("design.").split("=")
        switch = next(s for s in SWITCHES if s.field == field)
        assert set(safeguard.protects) <= set(switch.protects), safeguard.switch
        (change,) = design_changes(Design.model_validate({field: value}))
        assert change.setting == safeguard.switch


def test_a_failing_run_leads_with_the_promise_its_cause_the_faults_and_the_saga(no_compensation) -> None:
    saga = "res-1"
    blocks = first_screen(run_blocks(no_compensation, [hero(saga)], flow_saga=saga))
    verdict = blocks[1]
    assert isinstance(verdict, Verdict) and not verdict.ok
    assert verdict.text == ("Broken promise (no-orphaned-deduction): Each point deduction ends matched by a "
                            "confirmed reservation or refunded exactly once.")
    rows = rows_of(blocks)
    assert rows["why the design let it"].startswith(
        "Compensation is switched off: nothing refunds a deduction whose reservation failed "
        "(design.compensation=false")
    assert rows["the fault schedule"] == "From 0 s to 100 s, every reply of point.use is lost."
    assert "unrefunded deduction" in rows["what broke"] and "client-outcomes-honoured" in rows["what broke"]
    assert [b.file_name for b in blocks if isinstance(b, Image)] == ["message-flow.png"]


def test_why_it_broke_ties_the_cause_to_what_happened(no_compensation) -> None:
    first = next(v for v in no_compensation.verdicts if v.invariant.id == "no-orphaned-deduction").violations[0]
    why = explanation(no_compensation, "no-orphaned-deduction")
    assert why.startswith("Compensation is switched off: nothing refunds a deduction whose reservation failed")
    assert first.message.rstrip(".") in why
    markdown = to_markdown(run_blocks(no_compensation, []))
    assert f"Why it broke: {why}" in markdown


def test_a_promise_the_default_design_breaks_is_called_a_gap(no_compensation) -> None:
    outcome = RunOutcome(no_compensation.result, no_compensation.verdicts)
    outcome.result = run(small_scenario("workload.users=2")).result
    assert "Nothing is switched off: this is the default design" in cause_words(outcome, "no-orphaned-deduction")
    unrelated = run(small_scenario("design.hold_expiry=false", "workload.users=2"))
    assert "no switch that differs exists for this promise" in cause_words(unrelated, "no-orphaned-deduction")


def test_the_coverage_of_an_exploration_counts_its_counterexample(no_compensation) -> None:
    found = Exploration(base=small_scenario("design.compensation=false"), examples_requested=10, runs=12,
                        generated=10, probes=Counter(), examples_to_failure=10)
    found.counterexample = no_compensation.result.scenario
    found.outcome = no_compensation
    lost = probe_counts(no_compensation.result)["reply-lost-after-deduction"]
    assert lost > 0
    markdown = to_markdown(exploration_blocks(found))
    assert "## Coverage, counting the search and the counterexample" in markdown
    assert "| reply-lost-after-deduction | " in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| reply-lost-after-deduction |"))
    assert row.endswith(f"| 0 | {lost} | {lost} |"), row


LATE_USE_REPLIES = [{"at": 0, "kind": "delay", "target": "reply", "duration": 15, "params": {"seconds": 30},
                     "match": {"message_type": "point.use"}}]


def test_a_counterexample_of_a_reply_that_came_after_the_caller_gave_up_reaches_its_probe() -> None:
    late = run(small_scenario("design.compensation=false", "workload.users=4", faults=LATE_USE_REPLIES))
    assert "no-orphaned-deduction" in {v.invariant.id for v in late.verdicts if v.violated}
    assert not list(late.result.trace.of_kind("call.reply_lost"))
    found = Exploration(base=small_scenario("design.compensation=false"), examples_requested=10, runs=12,
                        generated=10, probes=Counter(), examples_to_failure=10)
    found.counterexample = late.result.scenario
    found.outcome = late
    markdown = to_markdown(exploration_blocks(found))
    row = next(line for line in markdown.splitlines() if line.startswith("| reply-lost-after-deduction |"))
    assert "✘ never" not in row
    assert "(the promise of design section 1:" in markdown and "of seed 1" not in markdown
    late_replies = len(list(late.result.trace.of_kind("call.late_reply")))
    assert row.endswith(f"| 0 | {late_replies} | {late_replies} |"), row


@pytest.fixture(scope="module")
def seats_left() -> RunOutcome:
    """More seats than the small workload buys: some end unsold while users leave without one."""
    return run(small_scenario("concerts.seats_per_date=25"))


def test_a_run_says_when_seats_end_unsold_while_users_left_without_a_ticket(seats_left: RunOutcome) -> None:
    funnel = seats_left.metrics["funnel"]
    found = unsold_seats(seats_left.result, funnel)
    assert found.unsold == funnel["unsold_seats"] > 0
    assert found.users_without_ticket == funnel["arrived"] - funnel["confirmed"] > 0
    booked = seats_left.result.table("reservation", reservations.RESERVATIONS).values()
    seats = seats_left.result.table("reservation", reservations.SEATS)
    released = {(r.date_id, r.seat_no) for r in booked
                if r.status in (ReservationStatus.EXPIRED, ReservationStatus.FAILED)
                and seats[(r.date_id, r.seat_no)].status != SeatStatus.SOLD}
    assert found.released == len(released)
    sentence = found.sentence()
    assert sentence.startswith(f"{found.unsold} seats ended unsold while {found.users_without_ticket} of 40 users "
                               "left without a ticket.")
    blocks = first_screen(run_blocks(seats_left, []))
    assert f"Unsold seats: {sentence}" in to_markdown(blocks)


def test_a_sold_out_run_says_nothing_of_unsold_seats() -> None:
    outcome = run(small_scenario("workload.users=60"))
    assert outcome.metrics["funnel"]["unsold_seats"] == 0
    assert unsold_seats(outcome.result, outcome.metrics["funnel"]).sentence() == ""
    assert "Unsold seats" not in to_markdown(run_blocks(outcome, []))


def test_a_difference_that_does_not_explain_the_failure_is_named_apart() -> None:
    outcome = run(small_scenario("design.hold_expiry=false", "design.payment_flow=choreography",
                                 "settle.deadline=60", "workload.users=6"))
    assert "seats-released-on-expiry" in outcome.violated
    rows = rows_of(first_screen(run_blocks(outcome, [])))
    assert rows["why the design let it"].startswith("Hold expiry is switched off")
    assert rows["also unlike the default design"] == (
        "The choreography flow: Point's PointUsedEvent confirms the reservation, so a payment waits on the "
        "broker instead of a call (design.payment_flow=choreography)")
