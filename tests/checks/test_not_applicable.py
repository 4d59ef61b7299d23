"""A verdict is three-valued: an invariant a run could not judge (its mechanism off, nothing in the
run exercising it) is "not applicable" with the reason, never "holds", and a violation found is
never hidden behind "not applicable"."""

from __future__ import annotations

import pytest

from concertsim.api import RunOutcome, run
from concertsim.checks.base import Invariant, Verdict, Violation

SMALL = ["workload.users=6"]


@pytest.fixture(scope="module")
def outcome() -> RunOutcome:
    return run("small-opening", overrides=SMALL)


def verdict(outcome: RunOutcome, invariant: str) -> Verdict:
    return next(v for v in outcome.verdicts if v.invariant.id == invariant)


@pytest.mark.parametrize(("invariant", "reason"), [
    ("point-replay-consistent", "Point's accounts are not event-sourced (design.point_storage=state)"),
    ("events-readable", "no event schema is upgraded (no schema_upgrade)"),
    ("events-read-as-written", "no event schema is upgraded (no schema_upgrade)"),
    ("point-stores-agree", "no traffic shift to the split-out Point (design.point_shift=0)"),
    ("dead-letters-drain", "no event was parked in a dead-letter topic"),
    ("refunds-visible", "no points were given back"),
])
def test_an_invariant_whose_mechanism_is_off_or_unexercised_is_not_applicable(
    outcome: RunOutcome, invariant: str, reason: str
) -> None:
    judged = verdict(outcome, invariant)
    assert (judged.status, judged.not_applicable) == ("not_applicable", reason)
    assert not judged.holds and not judged.violated


def test_the_same_invariant_is_judged_when_its_mechanism_is_on() -> None:
    events = run("small-opening", overrides=[*SMALL, "design.point_storage=events"])
    assert verdict(events, "point-replay-consistent").status == "holds"
    no_letters = run("small-opening", overrides=[*SMALL, "design.dead_letter=false"])
    assert verdict(no_letters, "dead-letters-drain").not_applicable == (
        "dead-letter topics are off (design.dead_letter=false)")


def test_the_api_never_counts_a_not_applicable_invariant_among_those_held(outcome: RunOutcome) -> None:
    assert outcome.holds and outcome.violated == []
    assert "point-stores-agree" in outcome.not_applicable and "point-stores-agree" not in outcome.held
    assert len(outcome.held) + len(outcome.not_applicable) == len(outcome.verdicts)
    assert set(outcome.held).isdisjoint(outcome.not_applicable)


def test_summary_json_gives_each_invariant_a_status_and_the_reason(outcome: RunOutcome) -> None:
    summary = outcome.summary()
    shown = {entry["id"]: entry for entry in summary["invariants"]}
    assert shown["point-stores-agree"]["status"] == "not_applicable"
    assert shown["point-stores-agree"]["reason"] == "no traffic shift to the split-out Point (design.point_shift=0)"
    assert shown["no-double-booking"]["status"] == "holds" and shown["no-double-booking"]["reason"] is None
    assert shown["point-stores-agree"]["holds"] is True, "the older field keeps its meaning: not violated"
    assert summary["holds"] is True and summary["not_applicable"] == outcome.not_applicable


def test_a_violation_is_reported_even_where_the_invariant_says_it_does_not_apply(outcome: RunOutcome) -> None:
    from concertsim.checks.base import judge

    broken = Violation("made-up", "a broken promise")
    definition = Invariant("made-up", "safety", "a promise", lambda result: [broken],
                           applies=lambda result: "its mechanism is off")
    judged = judge(definition, outcome.result)
    assert judged.status == "violated" and judged.not_applicable is None and judged.violations == [broken]
    kept = Invariant("made-up", "safety", "a promise", lambda result: [], applies=lambda result: None)
    assert judge(kept, outcome.result).status == "holds"
