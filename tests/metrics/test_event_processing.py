"""Event processing per consumer group: age, handling time and what went wrong."""

from __future__ import annotations

from tests.metrics.helpers import small_run

THREE_DUPLICATE_DELIVERIES_TO_CONCERT = [
    {"at": 0, "kind": "duplicate", "target": "delivery", "match": {"group": "concert", "count": 3}},
]
CONCERT_CANNOT_COMMIT = [
    {"at": 0, "kind": "commit_failure", "target": "concert", "duration": 10, "params": {"rate": 1.0}},
]


def test_every_handling_is_counted_once_under_its_group() -> None:
    metrics = small_run().metrics
    groups = metrics["event_processing"]
    assert set(groups) == {"concert", "data_platform", "point", "queue", "reservation"}
    assert sum(g["handled"] for g in groups.values()) == metrics["events"]["handled"]
    for group in groups.values():
        assert group["never_handled"] == group["failures"] == 0
        if group["handled"]:
            assert group["age_from_append_ms"]["p50_ms"] <= group["age_ms"]["p50_ms"]
            assert group["handling_ms"]["max_ms"] <= group["age_ms"]["max_ms"]
            assert group["handling_ms"]["p50_ms"] > 0


def test_duplicate_deliveries_are_redeliveries_the_inbox_skips() -> None:
    metrics = small_run(faults=THREE_DUPLICATE_DELIVERIES_TO_CONCERT).metrics
    concert = metrics["event_processing"]["concert"]
    assert (concert["redeliveries"], concert["duplicates_skipped"]) == (3, 3)
    assert concert["deliveries"] == concert["handled"] + 3
    assert metrics["reliability"]["consumers"]["concert"]["redelivery_rate"] == round(3 / concert["deliveries"], 4)
    assert metrics["event_processing"]["data_platform"]["redeliveries"] == 0


def test_failed_handling_is_retried_then_parked_and_redriven() -> None:
    outcome = small_run(faults=CONCERT_CANNOT_COMMIT)
    concert = outcome.metrics["event_processing"]["concert"]
    policy = outcome.result.scenario
    assert concert["failures"] > 0 and concert["dead_lettered"] > 0
    assert concert["redriven"] == concert["dead_lettered"] and concert["never_handled"] == 0
    # A handling that failed waited its backoff before the next attempt.
    assert concert["handling_ms"]["max_ms"] >= policy.broker.retry_backoff * 1000
    # A parked event is handled only when re-driven after the heal.
    assert concert["age_ms"]["max_ms"] >= (outcome.result.phases.heal_at - 10) * 1000
    consumers = outcome.metrics["reliability"]["consumers"]["concert"]
    assert consumers["handling_failures"] == concert["failures"]
    assert 0 < consumers["failure_rate"] < 1 and 0 < consumers["dead_letter_rate"] <= 1


def test_events_lost_for_want_of_a_dead_letter_topic_are_never_handled() -> None:
    concert = small_run("design.dead_letter=false", faults=CONCERT_CANNOT_COMMIT).metrics["event_processing"]["concert"]
    assert concert["dropped"] > 0 and concert["dead_lettered"] == 0
    assert concert["never_handled"] == concert["dropped"]
