"""A rolling upgrade of an event's schema (seed 6.3): which order of upgrading producers and
consumers each reader survives, and what the checks say when it does not."""

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
def test_which_reader_reads_which_version(version: int, reads: int, reader: str, expected: bool) -> None:
    assert readable(version, reads, reader) is expected


@cache
def upgraded(producers_at: int, consumers_at: int, reader: str) -> RunOutcome:
    return run("rolling-upgrade", overrides=[
        f"schema_upgrade.producers_at={producers_at}", f"schema_upgrade.consumers_at={consumers_at}",
        f"schema_upgrade.reader={reader}", "workload.users=150"])


@pytest.mark.parametrize(("producers_at", "consumers_at", "reader", "broken"), [
    (5, 10, "tolerant", []),
    (10, 5, "tolerant", []),
    (10, 5, "upcasting", []),
    (5, 10, "upcasting", ["events-readable"]),
    (5, 10, "strict", ["events-readable"]),
    (10, 5, "strict", ["seat-view-converges", "ranking-converges", "dead-letters-drain", "events-readable"]),
])
def test_each_order_and_reader_keeps_or_breaks_the_promises(producers_at: int, consumers_at: int, reader: str,
                                                            broken: list[str]) -> None:
    assert upgraded(producers_at, consumers_at, reader).violated == broken


def test_the_violation_names_the_order_that_broke_and_the_reader_that_would_not() -> None:
    verdict = next(v for v in upgraded(5, 10, "upcasting").verdicts if v.invariant.id == "events-readable")
    message = verdict.violations[0].message
    assert "SeatReservedEvent v2" in message and "the producer went first" in message
    assert "needs a tolerant reader" in message and verdict.violations[0].records


def test_without_an_upgrade_every_event_is_written_in_its_current_version() -> None:
    plain = run("small-opening")
    assert "events-readable" not in plain.violated
    assert not any(r.kind == "consumer.unreadable" for r in plain.result.trace.records)
