"""A rolling upgrade of an event's schema (seed 6.3): version 2 changes the record's shape, each
reader reads it as Avro's schema resolution or a conversion layer would, the schema registry
refuses what its compatibility mode forbids, and the checks catch both a refusal and a field read
as its default."""

from __future__ import annotations

from functools import cache

import pytest

from concertsim.api import RunOutcome, run
from concertsim.models.events import readable


@pytest.mark.parametrize(("version", "reads", "reader", "expected"), [
    (1, 1, "strict", True), (2, 1, "strict", False), (1, 2, "strict", False),
    (2, 1, "upcasting", False), (1, 2, "upcasting", True),
    (2, 1, "tolerant", True), (1, 2, "tolerant", True),
])
def test_which_reader_tries_which_version(version: int, reads: int, reader: str, expected: bool) -> None:
    assert readable(version, reads, reader) is expected


REQUIRED = "schema_upgrade.defaults=false"
"""Version 2's new fields without defaults: required."""


@cache
def upgraded(producers_at: int, consumers_at: int, reader: str, *settings: str) -> RunOutcome:
    return run("rolling-upgrade", overrides=[
        f"schema_upgrade.producers_at={producers_at}", f"schema_upgrade.consumers_at={consumers_at}",
        f"schema_upgrade.reader={reader}", "workload.users=150", *settings])


def test_the_built_in_upgrade_converts_old_records_up_and_keeps_every_promise() -> None:
    outcome = run("rolling-upgrade", overrides=["workload.users=150"])
    assert outcome.violated == []
    assert "events-read-as-written" in outcome.held and "events-readable" in outcome.held
    reads = [r.data for r in outcome.result.trace.of_kind("consumer.read")]
    assert {(r["version"], r["reads"]) for r in reads} >= {(1, 2), (2, 2)}


@pytest.mark.parametrize(("producers_at", "consumers_at", "reader", "settings", "broken"), [
    # v2 with defaults passes BACKWARD; only the conversion layer, consumers first, reads it right
    (10, 5, "upcasting", ("schema_upgrade.defaults=true",), []),
    (10, 5, "tolerant", ("schema_upgrade.defaults=true",),
     ["seat-view-converges", "ranking-converges", "dead-letters-drain", "events-read-as-written"]),
    (5, 10, "tolerant", ("schema_upgrade.defaults=true",), ["events-read-as-written"]),
    (5, 10, "upcasting", ("schema_upgrade.defaults=true",), ["events-readable"]),
    (5, 10, "strict", ("schema_upgrade.defaults=true",), ["events-readable"]),
    # v2 with required fields: refused under BACKWARD, so nothing ships and nothing breaks
    (10, 5, "tolerant", (REQUIRED,), []),
    # registered anyway: the upgraded consumers cannot read v1
    (10, 5, "tolerant", (REQUIRED, "design.schema_compatibility=none"),
     ["seat-view-converges", "ranking-converges", "dead-letters-drain", "events-readable"]),
    # FORWARD accepts it: old readers read the renamed and split fields as their defaults
    (5, 10, "tolerant", (REQUIRED, "design.schema_compatibility=forward"), ["events-read-as-written"]),
])
def test_each_order_reader_and_registry_keeps_or_breaks_the_promises(
    producers_at: int, consumers_at: int, reader: str, settings: tuple[str, ...], broken: list[str]
) -> None:
    assert upgraded(producers_at, consumers_at, reader, *settings).violated == broken


def test_a_refused_version_2_leaves_every_event_at_version_1_and_the_checks_not_applicable() -> None:
    outcome = upgraded(10, 5, "tolerant", REQUIRED)
    assert not any(r.kind in ("consumer.read", "consumer.unreadable") for r in outcome.result.trace.records)
    reason = outcome.not_applicable["events-read-as-written"]
    assert "the schema registry refused v2" in reason and "BACKWARD" in reason
    assert outcome.not_applicable["events-readable"] == reason


def test_the_refusal_names_the_order_the_reader_and_the_missing_field() -> None:
    verdict = next(v for v in upgraded(10, 5, "tolerant", REQUIRED, "design.schema_compatibility=none").verdicts
                   if v.invariant.id == "events-readable")
    message = verdict.violations[0].message
    assert "SeatReservedEvent v1" in message and "the consumers went first" in message
    assert "seat_row is not in v1 and has no default" in message and verdict.violations[0].records


def test_a_field_read_as_its_default_is_named_with_the_value_meant() -> None:
    verdict = next(v for v in upgraded(5, 10, "tolerant", REQUIRED, "design.schema_compatibility=forward").verdicts
                   if v.invariant.id == "events-read-as-written")
    violation = verdict.violations[0]
    assert "as v1 with a tolerant reader" in violation.message and "the producer went first" in violation.message
    assert "seat_no 0 instead of" in violation.message and "user_id 0 instead of" in violation.message
    assert len(violation.records) == 2


def test_an_amount_read_as_zero_is_caught_in_every_consumer_of_the_sale() -> None:
    outcome = upgraded(5, 10, "tolerant", "schema_upgrade.event=ReservationCompletedEvent",
                       "schema_upgrade.defaults=true")
    assert outcome.violated == ["events-read-as-written"]
    verdict = next(v for v in outcome.verdicts if v.invariant.id == "events-read-as-written")
    assert {v.evidence["group"] for v in verdict.violations} >= {"concert", "data_platform"}
    assert all("amount 0 instead of 50000" in v.message for v in verdict.violations)


RELAY_DOWN = "faults=[{at: 1, kind: crash, target: 'relay:reservation', duration: 8}]"


@pytest.mark.parametrize(("reader", "broken"), [
    ("upcasting", []),
    ("tolerant", ["seat-view-converges", "ranking-converges", "dead-letters-drain", "events-read-as-written"]),
])
def test_outbox_rows_written_before_the_upgrade_are_read_after_it_as_written(reader: str, broken: list[str]) -> None:
    outcome = upgraded(30, 5, reader, "schema_upgrade.defaults=true", RELAY_DOWN)
    raised_at = {r.data["event_id"]: r.at for r in outcome.result.trace.of_kind("event.raised")}
    late = [r for r in outcome.result.trace.of_kind("consumer.read")
            if raised_at[r.data["event_id"]] < 5 and r.at >= 5]
    assert late, "rows committed before the consumers' upgrade wait in the outbox past it"
    assert all((r.data["version"], r.data["reads"]) == (1, 2) for r in late)
    assert outcome.violated == broken


def test_without_an_upgrade_no_record_is_serialized_or_read() -> None:
    plain = run("small-opening")
    assert "events-readable" not in plain.violated
    assert plain.not_applicable["events-read-as-written"] == "no event schema is upgraded (no schema_upgrade)"
    assert not any(r.kind in ("consumer.unreadable", "consumer.read") for r in plain.result.trace.records)


CONCERT_FAILS = "faults=[{at: 1, kind: commit_failure, target: concert, duration: 3, params: {rate: 1.0}}]"


def test_events_parked_before_the_upgrade_are_read_with_the_upgraded_reader_when_re_driven() -> None:
    outcome = upgraded(30, 5, "upcasting", "schema_upgrade.defaults=true", "design.retries=0", CONCERT_FAILS)
    trace = outcome.result.trace
    parked = {r.data["event_id"] for r in trace.of_kind("broker.dead_letter") if r.data["type"] == "SeatReservedEvent"}
    assert parked, "Concert's failing commits park SeatReservedEvent v1 records"
    re_read = [r for r in trace.of_kind("consumer.read") if r.data["event_id"] in parked and r.at >= 5]
    assert re_read and all((r.data["version"], r.data["reads"]) == (1, 2) for r in re_read)
    assert outcome.violated == []


@cache
def point_upgraded(reader: str, *settings: str) -> RunOutcome:
    """Point's stream events upgraded: Point replays with a v2 reader from 5 s, writes v2 from 10 s."""
    return run("event-sourced-point", overrides=[
        "schema_upgrade.event=PointLedgerEntry", "schema_upgrade.consumers_at=5", "schema_upgrade.producers_at=10",
        f"schema_upgrade.reader={reader}", "schema_upgrade.defaults=true", *settings])


def test_an_upgraded_point_replays_streams_written_before_it_through_the_upcaster() -> None:
    outcome = point_upgraded("upcasting")
    assert outcome.violated == [] and "events-read-as-written" in outcome.held
    stored = outcome.result.table("point", "account_stream_records")
    assert {version for version, _ in stored.values()} == {1, 2}


def test_a_tolerant_point_replays_an_old_streams_renamed_amount_as_zero() -> None:
    outcome = point_upgraded("tolerant", "schema_upgrade.aliases=false")
    assert "events-read-as-written" in outcome.violated
    verdict = next(v for v in outcome.verdicts if v.invariant.id == "events-read-as-written")
    assert "with a v2 tolerant reader as amount 0 instead of" in verdict.violations[0].message


def test_a_strict_point_cannot_replay_an_old_stream_after_its_upgrade() -> None:
    outcome = point_upgraded("strict")
    assert "events-readable" in outcome.violated
    messages = [v.message for v in next(v for v in outcome.verdicts if v.invariant.id == "events-readable").violations]
    assert any("could not replay an account's stream for point." in m for m in messages)
    assert any("cannot replay user" in m and "unreadable to its v2 strict reader" in m for m in messages)


def test_a_stream_upgrade_without_event_sourcing_is_not_applicable() -> None:
    outcome = point_upgraded("upcasting", "design.point_storage=state")
    assert "Point's accounts are not event-sourced" in outcome.not_applicable["events-read-as-written"]
    assert "Point's accounts are not event-sourced" in outcome.not_applicable["events-readable"]


def test_a_skewed_clock_does_not_reorder_the_upgrade() -> None:
    """The producer's clock runs 30 s fast; the plan still upgrades the consumers (5 s) before the
    producer (10 s) in the world's time, so every v2 event finds a reader that can read it."""
    from pathlib import Path

    skewed = run(Path(__file__).parent / "cases" / "schema-upgrade-under-producer-clock-skew.yaml")
    assert skewed.violated == []
    early = [r.data["version"] for r in skewed.result.trace.of_kind("consumer.read") if r.at < 10.0]
    assert early and set(early) == {1}  # written before the producer's upgrade in the world's time
