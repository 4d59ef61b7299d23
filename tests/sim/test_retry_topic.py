"""Retrying in place against a retry topic (seed 4.2.3 "a retry queue"): in place, a failing
event holds its partition back (head-of-line blocking) and order holds; from a retry topic the
partition goes on, and a later event of the same seat overtakes the one being retried, which the
checks catch as a seat view that never converges."""

from __future__ import annotations

from functools import cache

import pytest

from concertsim.api import RunOutcome, run

CONCERT_COMMITS_FAIL = "faults=[{at: 0, kind: commit_failure, target: concert, duration: 20, params: {rate: 0.5}}]"


@cache
def outcome(retry_topic: bool) -> RunOutcome:
    return run("ticket-opening", overrides=[f"broker.retry_topic={str(retry_topic).lower()}", CONCERT_COMMITS_FAIL])


def queued(result: RunOutcome) -> int:
    return sum(1 for r in result.result.trace.records if r.kind == "consumer.retry_queued")


def test_retrying_in_place_keeps_each_seats_order_at_the_cost_of_lag() -> None:
    in_place = outcome(False)
    assert in_place.violated == [] and queued(in_place) == 0


def test_a_retry_topic_cuts_the_lag_and_lets_a_seats_events_overtake_each_other() -> None:
    in_place, retry_topic = outcome(False), outcome(True)
    assert queued(retry_topic) > 0
    assert retry_topic.violated == ["seat-view-converges"]
    lag = {name: o.metrics["staleness"]["seat_view"]["lag_ms"]["p50_ms"] for name, o in
           (("in place", in_place), ("retry topic", retry_topic))}
    assert lag["retry topic"] < lag["in place"], lag


@pytest.mark.parametrize("dead_letter", [True, False])
def test_retries_from_the_topic_end_parked_or_dropped_when_spent(dead_letter: bool) -> None:
    always = "faults=[{at: 0, kind: commit_failure, target: data_platform, duration: 30, params: {rate: 1.0}}]"
    result = run("small-opening", overrides=["broker.retry_topic=true", always, "design.retries=1",
                                             f"design.dead_letter={str(dead_letter).lower()}", "workload.users=10"])
    kinds = {r.kind for r in result.result.trace.records}
    assert "consumer.retry_queued" in kinds
    assert ("broker.dead_letter" in kinds) is dead_letter and ("consumer.dropped" in kinds) is not dead_letter
