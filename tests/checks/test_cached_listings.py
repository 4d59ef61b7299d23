"""``seat-cache-bounded``: a listing served from Concert's seat cache is no staler than the cache
promises. A cache that never invalidates, one that outlives its ttl and one that skips its version
read are caught; the correct caches hold on ``seat-cache``, through the stale-set race and under
faults on Concert; a fault excuses only through the fault-relevance rule."""

from __future__ import annotations

import pytest

from concertsim.api import run
from concertsim.checks import Verdict, check_run
from concertsim.models.concert import CachedListing, SeatCache

INVARIANT = "seat-cache-bounded"


def verdict(*overrides: str) -> Verdict:
    (found,) = check_run(run("seat-cache", overrides=list(overrides)).result, [INVARIANT])
    return found


def never_invalidates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SeatCache, "invalidate", lambda self, date_id: None)


@pytest.mark.parametrize("mode", ["invalidated", "versioned", "ttl"])
def test_a_correct_cache_keeps_its_bound_on_seat_cache(mode: str) -> None:
    assert verdict(f"seat_cache.mode={mode}").status == "holds"


def test_a_listing_stored_after_the_invalidation_it_missed_is_within_the_bound() -> None:
    """Slow reads make the stale-set race common: listings show taken seats free, within ttl."""
    outcome = run("seat-cache", overrides=["seat_cache.mode=invalidated", "seat_cache.fill_seconds=0.3"])
    assert sum(r.data["taken"] for r in outcome.result.trace.of_kind("cache.hit")) > 0
    (found,) = check_run(outcome.result, [INVARIANT])
    assert found.status == "holds"


@pytest.mark.parametrize("mode", ["invalidated", "ttl"])
@pytest.mark.parametrize("fault", [
    "{at: 3, kind: crash, target: concert, duration: 2}",
    "{at: 3, kind: pause, target: concert, duration: 2}",
    "{at: 2.5, kind: clock_skew, target: concert, duration: 5, params: {seconds: -3}}",
])
def test_a_correct_cache_keeps_its_bound_under_faults_on_concert(mode: str, fault: str) -> None:
    assert verdict(f"seat_cache.mode={mode}", f"faults=[{fault}]").status == "holds"


def test_an_invalidated_cache_that_never_invalidates_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    never_invalidates(monkeypatch)
    found = verdict("seat_cache.mode=invalidated")
    assert found.status == "violated"
    first = found.violations[0]
    assert "after the listing was stored" in first.message
    assert first.evidence["stored_at"] < first.evidence["served_at"] and first.evidence["seats"]


def test_a_fault_on_concert_excuses_only_while_it_could_have_delayed_the_invalidation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never_invalidates(monkeypatch)
    slowed = verdict("seat_cache.mode=invalidated", "faults=[{at: 0, kind: slow, target: concert}]")
    elsewhere = verdict("seat_cache.mode=invalidated", "faults=[{at: 0, kind: slow, target: point}]")
    assert slowed.status == "holds"
    assert elsewhere.status == "violated"


def test_a_ttl_cache_that_outlives_its_ttl_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = SeatCache.__init__
    monkeypatch.setattr(SeatCache, "__init__", lambda self, mode, ttl: kept(self, mode, 3 * ttl))
    found = verdict("seat_cache.mode=ttl")
    assert found.status == "violated"
    assert "5s or more before" in found.violations[0].message


def test_a_versioned_cache_that_skips_its_version_read_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    def lookup(self: SeatCache, date_id: int, *, now: float, version: int | None = None) -> CachedListing | None:
        return self.listings.get(date_id)

    monkeypatch.setattr(SeatCache, "lookup", lookup)
    assert verdict("seat_cache.mode=versioned").status == "violated"


def test_without_a_cache_or_a_listing_served_from_it_nothing_is_judged() -> None:
    assert verdict("seat_cache.mode=none").not_applicable == "Concert has no seat cache (seat_cache.mode=none)"
    (found,) = check_run(run("small-opening", overrides=["seat_cache.mode=invalidated"]).result, [INVARIANT])
    assert found.status == "not_applicable" and found.not_applicable == "no seat listing was served from the cache"
