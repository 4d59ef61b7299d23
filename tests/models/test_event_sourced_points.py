"""Point with event sourcing (seed 6.1): balances derived by replaying each user's events, from a
snapshot when there is one, equal what a balance row would hold."""

from __future__ import annotations

import pytest

from concertsim.models import points as p
from concertsim.models.errors import InsufficientPoints, UnknownAccount, UnreadableEvent
from concertsim.models.schemas import LEDGER_ENTRY, plan_rollout
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
    assert len(p.stream_entries(sourced, 1)) == 5


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
    assert p.stream_entries(store, 3) == []
    assert p.balance(store, 3, SOURCED) == 0
    p.charge(store, ids, user_id=3, amount=40, now=1.0, storage=SOURCED)
    p.open_account(store, 3, 2.0, initial_balance=999, storage=SOURCED)
    assert p.stream_entries(store, 3) == ["led-1"]
    assert p.balance(store, 3, SOURCED) == 40


def test_a_snapshot_names_its_user() -> None:
    store = history(SOURCED)
    assert store.get(p.SNAPSHOTS, 1) == p.Snapshot(1, 4, 150)


class WritesSeen(MemoryStore):
    """A memory store that remembers each row written, by table and key."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, object]] = []

    def put(self, table: str, key: object, row: object) -> None:  # type: ignore[override]
        self.written.append((table, key))
        super().put(table, key, row)


def test_an_append_inserts_the_event_at_the_next_version_and_writes_no_earlier_event_again() -> None:
    store, ids = WritesSeen(), CountingIds()
    p.open_account(store, 1, 0.0, initial_balance=100, storage=SOURCED)
    p.charge(store, ids, user_id=1, amount=50, now=1.0, storage=SOURCED)
    p.use(store, ids, user_id=1, amount=30, reservation_id="res-1", idempotency_key="k1", now=2.0, storage=SOURCED)
    existing = {table: set(rows) for table, rows in store.tables.items()}
    store.written.clear()
    p.charge(store, ids, user_id=1, amount=5, now=3.0, storage=SOURCED)
    assert [(t, k) for t, k in store.written if t in (p.STREAMS, p.LEDGER)] == [(p.LEDGER, "led-3"), (p.STREAMS, (1, 4))]
    assert not any(k in existing.get(t, ()) for t, k in store.written if t in (p.STREAMS, p.LEDGER))
    assert p.stream_entries(store, 1) == ["led-open-1", "led-1", "led-2", "led-3"]


def test_a_refund_is_an_event_of_the_stream_which_alone_rebuilds_the_refunded_deduction() -> None:
    store = history(SOURCED)
    refund = store.get(p.LEDGER, p.stream_entries(store, 1)[3])
    assert (refund.kind, refund.reservation_id) == ("refund", "res-1")
    rebuilt = p.rebuild_uses(store, 1)
    assert rebuilt == store.tables[p.USES]
    assert [(u.reservation_id, u.idempotency_key, u.refunded_at) for u in rebuilt.values()] == [
        ("res-1", "k1", 3.0), ("res-2", "k2", None)]


def test_a_refund_of_a_deduction_the_stream_does_not_hold_rebuilds_no_deduction() -> None:
    store = history(SOURCED)
    stray = p.LedgerEntry("led-stray", 1, "refund", 30, 9.0, reservation_id="res-9", use_id="use-elsewhere")
    store.put(p.LEDGER, stray.entry_id, stray)
    store.put(p.STREAMS, (1, len(p.stream_entries(store, 1)) + 1), stray.entry_id)
    assert "use-elsewhere" not in p.rebuild_uses(store, 1)


def test_a_replay_reads_each_stream_event_through_the_reader_of_its_version() -> None:
    def storage(reader: str, writes: int, reads: int, **options: bool) -> p.AccountStorage:
        rollout = plan_rollout(LEDGER_ENTRY, 0.0, 0.0, reader, compatibility="none", **options)
        return p.AccountStorage(sourced=True, stream=p.StreamVersions(rollout, writes, reads))

    store, ids = MemoryStore(), CountingIds()
    p.open_account(store, 1, 0.0, initial_balance=5_000, storage=storage("upcasting", 1, 1))
    p.charge(store, ids, user_id=1, amount=300, now=1.0, storage=storage("upcasting", 2, 2))
    assert {version for version, _ in store.tables[p.STREAM_RECORDS].values()} == {1, 2}
    assert p.replay(store, 1, stream=storage("upcasting", 2, 2).stream)[0] == 5_300
    assert p.replay(store, 1, stream=storage("tolerant", 2, 2, defaults=True, aliases=False).stream)[0] == 300
    with pytest.raises(UnreadableEvent):
        p.replay(store, 1, stream=storage("strict", 2, 2).stream)
