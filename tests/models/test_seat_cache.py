"""Concert's cache of each date's free seats (seed 3.2: "invalidates its cache")."""

from __future__ import annotations

from concertsim.models.concert import CachedListing, SeatCache


def test_a_date_never_filled_has_no_listing() -> None:
    cache = SeatCache("invalidated", 5.0)
    assert cache.lookup(1, now=0.0, version=0) is None
    assert SeatCache("ttl", 5.0).lookup(1, now=0.0, version=0) is None


def test_fill_keeps_the_free_seats_when_and_at_which_version_they_were_read() -> None:
    cache = SeatCache("invalidated", 5.0)
    cache.fill(1, (2, 3), now=4.0, version=7)
    assert cache.listings == {1: CachedListing((2, 3), 4.0, 7)}
    cache.fill(1, (3,), now=6.0, version=8)
    assert cache.listings == {1: CachedListing((3,), 6.0, 8)}


def test_a_versioned_listing_is_served_while_its_date_has_no_new_change_whatever_its_age() -> None:
    cache = SeatCache("versioned", 5.0)
    cache.fill(1, (2, 3), now=0.0, version=3)
    assert cache.lookup(1, now=1000.0, version=3) == CachedListing((2, 3), 0.0, 3)
    assert cache.lookup(1, now=1.0, version=4) is None
    assert cache.lookup(2, now=1.0, version=3) is None


def test_a_ttl_listing_is_served_until_its_ttl_runs_out_whatever_changes() -> None:
    cache = SeatCache("ttl", 5.0)
    cache.fill(1, (2, 3), now=10.0, version=3)
    assert cache.lookup(1, now=14.999, version=9) == CachedListing((2, 3), 10.0, 3)
    assert cache.lookup(1, now=15.0, version=3) is None
    assert (cache.mode, cache.ttl) == ("ttl", 5.0)


def test_a_new_cache_is_empty() -> None:
    assert SeatCache("invalidated", 0.0).listings == {}


def test_invalidating_a_date_drops_its_listing_unless_the_cache_only_ages() -> None:
    for mode, kept in (("invalidated", False), ("versioned", False), ("ttl", True)):
        cache = SeatCache(mode, 5.0)
        cache.fill(1, (2, 3), now=0.0, version=3)
        cache.fill(2, (4,), now=0.0, version=1)
        cache.invalidate(1)
        assert (cache.lookup(1, now=1.0, version=3) is not None) is kept, mode
        assert cache.lookup(2, now=1.0, version=1) == CachedListing((4,), 0.0, 1), mode


def test_invalidating_a_date_with_no_listing_is_a_no_op() -> None:
    """A seat event of a date no one has listed yet arrives before any fill."""
    cache = SeatCache("invalidated", 5.0)
    cache.invalidate(1)
    assert cache.listings == {}
