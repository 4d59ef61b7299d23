"""Concert's seat cache (seed 3.2): an invalidated cache is dropped when a seat change is committed,
so it lags the view only through the stale-set race; a versioned cache is as fresh as the view; a
cache with a lifetime shows seats taken meanwhile. Stale listings cost buyers refused holds but
never a double booking."""

from __future__ import annotations

from collections import Counter

import pytest

from concertsim.api import run
from concertsim.models.concert import SeatCache


def test_a_ttl_listing_is_served_until_it_is_ttl_seconds_old_whatever_changed() -> None:
    cache = SeatCache("ttl", 5.0)
    cache.fill(1, (1, 2, 3), now=10.0, version=7)
    assert cache.lookup(1, now=14.9, version=9).free == (1, 2, 3)
    assert cache.lookup(1, now=15.0, version=7) is None
    assert cache.lookup(2, now=10.0, version=0) is None


def test_a_versioned_listing_is_served_only_while_the_view_has_not_changed() -> None:
    cache = SeatCache("versioned", 5.0)
    cache.fill(1, (1, 2), now=10.0, version=7)
    assert cache.lookup(1, now=100.0, version=7).free == (1, 2)
    assert cache.lookup(1, now=10.1, version=8) is None


def test_an_invalidated_listing_is_served_without_a_version_read_until_a_change_drops_it() -> None:
    cache = SeatCache("invalidated", 5.0)
    cache.fill(1, (1, 2), now=10.0, version=7)
    assert cache.lookup(1, now=14.9).free == (1, 2)
    assert cache.lookup(1, now=15.0) is None
    cache.invalidate(1)
    assert cache.lookup(1, now=10.1) is None


def test_a_listing_stored_after_the_invalidation_of_a_change_it_missed_is_served_until_its_ttl() -> None:
    cache = SeatCache("invalidated", 5.0)
    read_at_version = 7  # the view is read, then seat 2 is held and the listing invalidated
    cache.invalidate(1)
    cache.fill(1, (1, 2), now=10.0, version=read_at_version)
    assert cache.lookup(1, now=14.9).free == (1, 2)


def hits_and_refused_holds(mode: str, *more: str) -> tuple[list[dict], int, list[str]]:
    outcome = run("ticket-opening", overrides=[f"seat_cache.mode={mode}", "workload.users=150", *more])
    hits = [r.data for r in outcome.result.trace.records if r.kind == "cache.hit"]
    refused = Counter(op.error for op in outcome.result.history if op.action == "hold")["seat-unavailable"]
    return hits, refused, outcome.violated


@pytest.mark.parametrize("mode", ["invalidated", "versioned", "ttl"])
def test_a_cache_never_costs_a_promise(mode: str) -> None:
    assert hits_and_refused_holds(mode)[2] == []


def test_a_versioned_cache_never_serves_a_listing_the_view_has_moved_past() -> None:
    hits, _, _ = hits_and_refused_holds("versioned")
    assert hits and all(hit["behind"] == 0 for hit in hits)


def test_an_invalidated_cache_filled_by_slow_reads_serves_seats_the_view_shows_taken() -> None:
    """A listing read from the view before a seat event is handled and stored after the handling
    dropped the date's listing stays cached: later listings show the held seat free."""
    hits, _, violated = hits_and_refused_holds("invalidated", "seat_cache.fill_seconds=0.3")
    stale = [hit for hit in hits if hit["behind"] > 0]
    assert stale and sum(hit["taken"] for hit in stale) > 0
    assert violated == []


def test_a_cache_with_a_lifetime_serves_stale_listings_and_buyers_pay_with_refused_holds() -> None:
    stale_hits, stale_refused, _ = hits_and_refused_holds("ttl")
    _, fresh_refused, _ = hits_and_refused_holds("none")
    assert sum(hit["behind"] > 0 for hit in stale_hits) > 10
    assert max(hit["age"] for hit in stale_hits) < 5.0
    assert stale_refused > fresh_refused + 10


def test_the_metrics_and_the_report_say_how_stale_the_cache_was() -> None:
    from concertsim.reports.document.blocks import Paragraph
    from concertsim.reports.run.service_metrics import service_metrics_blocks

    outcome = run("seat-cache", overrides=["workload.users=150"])
    cache = outcome.metrics["seat_cache"]
    assert cache["mode"] == "ttl" and cache["stale_hits"] > 10 and cache["age_max_s"] < 5.0
    assert cache["refused_holds"] == Counter(op.error for op in outcome.result.history if op.action == "hold")["seat-unavailable"]
    shown = " ".join(b.text for b in service_metrics_blocks(outcome, with_figure=False) if isinstance(b, Paragraph))
    assert f"{cache['stale_hits']} of them behind Concert's view" in shown
    assert run("small-opening", overrides=["workload.users=5"]).metrics["seat_cache"] is None
