"""Point with event sourcing (seed 6.1): balances derived by replaying each user's events, from a
snapshot when there is one, equal what a balance row would hold."""

from __future__ import annotations

import pytest

from concertsim.models import points as p
from concertsim.models.errors import InsufficientPoints, UnknownAccount
from concertsim.models.store import CountingIds, MemoryStore

SOURCED = p.AccountStorage(sourced=True, snapshot_every=2)


def history(storage: p.AccountStorage) -> MemoryStore:
    store, ids = MemoryStore(), CountingIds()
    p.open_account(store, 1, 0.0, initial_balance=100, storage=storage)
    p.charge(store, ids, user_id=1, amount=50, now=1.0, storage=storage)
    p.use(store, ids, user_id=1, amount=120, reservation_id="res-1", idempotency_key="k1", now=2.0, storage=storage)
    p.refund_reservation(store, ids, reservation_id="res-1", now=3.0, storage=storage)
    p.use(store, ids, user_id=1, amount=30, reservation_id="res-2", idempotency_key="k2", now=4.0, storage=storage)
    return store


def test_an_event_sourced_account_holds_what_a_state_stored_one_does_and_stores_no_balance() -> None:
    sourced, state = history(SOURCED), history(p.STATE_STORED)
    assert p.balance(sourced, 1, SOURCED) == p.balance(state, 1) == 120
    assert sourced.tables.get(p.ACCOUNTS, {}) == {}
    assert len(sourced.get(p.STREAMS, 1).entries) == 5


def test_a_read_replays_from_the_latest_snapshot_and_agrees_with_a_full_replay() -> None:
    store = history(SOURCED)
    snapshot = store.get(p.SNAPSHOTS, 1)
    assert (snapshot.version, snapshot.balance) == (4, 150)  # after opening, charge, use, refund
    assert p.replay(store, 1) == (120, 1)
    assert p.replay(store, 1, from_snapshot=False) == (120, 5)


def test_an_event_sourced_account_refuses_what_a_state_stored_one_refuses() -> None:
    store, ids = history(SOURCED), CountingIds()
    with pytest.raises(InsufficientPoints):
        p.use(store, ids, user_id=1, amount=500, reservation_id="res-3", idempotency_key="k3", now=5.0, storage=SOURCED)
    with pytest.raises(UnknownAccount):
        p.balance(store, 2, SOURCED)


def test_an_event_sourced_account_opens_as_an_empty_stream_and_is_opened_once() -> None:
    store, ids = MemoryStore(), CountingIds()
    p.open_account(store, 3, 0.0, storage=SOURCED)
    assert store.get(p.STREAMS, 3) == p.AccountStream(3, ())
    assert p.balance(store, 3, SOURCED) == 0
    p.charge(store, ids, user_id=3, amount=40, now=1.0, storage=SOURCED)
    p.open_account(store, 3, 2.0, initial_balance=999, storage=SOURCED)
    assert store.get(p.STREAMS, 3) == p.AccountStream(3, ("led-1",))
    assert p.balance(store, 3, SOURCED) == 40


def test_a_snapshot_names_its_user() -> None:
    store = history(SOURCED)
    assert store.get(p.SNAPSHOTS, 1) == p.Snapshot(1, 4, 150)
