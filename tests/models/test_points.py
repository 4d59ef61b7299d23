"""Point's rules: balances never negative, a ledger that always balances, idempotent use,
refunds once, tombstones against late deductions (seed 4.1.1, 4.2.2, 4.2.3)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import pytest

from concertsim.models import points
from concertsim.models.errors import DeductionCancelled, InsufficientPoints, InvalidAmount, UnknownAccount
from concertsim.models.events import PointCharged, PointRefunded, PointUsed
from concertsim.models.store import CountingIds, MemoryStore


class ReadRecordingStore(MemoryStore):
    """A MemoryStore that remembers which rows were read for update (what a transaction checks
    for conflicts at commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.read_for_update: set[tuple[str, Hashable]] = set()

    def get_for_update(self, table: str, key: Hashable) -> Any | None:
        self.read_for_update.add((table, key))
        return super().get_for_update(table, key)


@pytest.fixture
def store() -> ReadRecordingStore:
    store = ReadRecordingStore()
    points.open_account(store, 1, 0.0)
    return store


@pytest.fixture
def ids() -> CountingIds:
    return CountingIds()


def charge(store: MemoryStore, ids: CountingIds, amount: int = 100) -> None:
    points.charge(store, ids, user_id=1, amount=amount, now=0.5)


def use(store: MemoryStore, ids: CountingIds, amount: int = 30, key: str = "pay-res-1",
        reservation: str = "res-1", **options: Any) -> tuple[points.PointUse, list[PointUsed]]:
    return points.use(store, ids, user_id=1, amount=amount, reservation_id=reservation,
                      idempotency_key=key, now=1.0, **options)


def test_charge_adds_points_and_raises_point_charged(store: MemoryStore, ids: CountingIds) -> None:
    raised = points.charge(store, ids, user_id=1, amount=100, now=0.5)
    assert points.balance(store, 1) == 100
    assert raised == [PointCharged(user_id=1, amount=100, balance=100)]


@pytest.mark.parametrize("amount", [0, -5])
def test_charge_refuses_non_positive_amounts(store: MemoryStore, ids: CountingIds, amount: int) -> None:
    with pytest.raises(InvalidAmount):
        points.charge(store, ids, user_id=1, amount=amount, now=0.5)


def test_charge_refuses_an_unknown_account(store: MemoryStore, ids: CountingIds) -> None:
    with pytest.raises(UnknownAccount):
        points.charge(store, ids, user_id=2, amount=10, now=0.5)


def test_balance_of_an_unknown_account_is_refused(store: MemoryStore) -> None:
    with pytest.raises(UnknownAccount):
        points.balance(store, 2)


def test_opening_an_account_twice_leaves_the_first_and_its_balance_is_a_ledger_charge() -> None:
    store = MemoryStore()
    points.open_account(store, 7, 0.0, initial_balance=500)
    points.open_account(store, 7, 1.0, initial_balance=999)
    assert points.balance(store, 7) == 500 == points.ledger_balance(store, 7)
    assert [e.kind for e in store.tables[points.LEDGER].values()] == ["charge"]


def test_use_deducts_and_raises_point_used(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    deduction, raised = use(store, ids)
    assert points.balance(store, 1) == 70
    assert raised == [PointUsed(user_id=1, use_id=deduction.use_id, reservation_id="res-1",
                                amount=30, balance=70)]
    assert store.get(points.USES_BY_RESERVATION, "res-1") == (deduction.use_id,)


def test_use_refuses_insufficient_points_and_leaves_the_balance(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids, amount=20)
    with pytest.raises(InsufficientPoints) as refused:
        use(store, ids, amount=30)
    assert (refused.value.user, refused.value.balance, refused.value.needed) == (1, 20, 30)
    assert points.balance(store, 1) == 20
    assert store.get(points.USES_BY_KEY, "pay-res-1") is None


def test_use_of_the_whole_balance_leaves_zero(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids, amount=30)
    use(store, ids, amount=30)
    assert points.balance(store, 1) == 0


def test_use_refuses_a_non_positive_amount_and_an_unknown_account(store: MemoryStore, ids: CountingIds) -> None:
    with pytest.raises(InvalidAmount):
        use(store, ids, amount=0)
    with pytest.raises(UnknownAccount):
        points.use(store, ids, user_id=2, amount=10, reservation_id="res-1", idempotency_key="k", now=1.0)


def test_use_with_same_key_is_applied_once(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    first, _ = use(store, ids)
    again, raised = use(store, ids)
    assert again == first and raised == []
    assert points.balance(store, 1) == 70


def test_a_retried_use_is_answered_even_when_the_balance_no_longer_covers_it(
    store: MemoryStore, ids: CountingIds
) -> None:
    charge(store, ids, amount=30)
    first, _ = use(store, ids, amount=30)
    assert use(store, ids, amount=30) == (first, [])


def test_use_without_idempotency_deducts_twice_for_the_same_key(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    first, _ = use(store, ids, idempotent=False)
    second, raised = use(store, ids, idempotent=False)
    assert first.use_id != second.use_id and len(raised) == 1
    assert points.balance(store, 1) == 40
    assert store.get(points.USES_BY_KEY, "pay-res-1") is None


def test_refund_gives_back_each_deduction_once(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    deduction, _ = use(store, ids)
    raised = points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    assert raised == [PointRefunded(user_id=1, use_id=deduction.use_id, reservation_id="res-1",
                                    amount=30, balance=100)]
    assert points.refund_reservation(store, ids, reservation_id="res-1", now=3.0) == []
    assert points.balance(store, 1) == 100
    assert store.get(points.USES, deduction.use_id).refunded_at == 2.0


def test_refund_never_refunds_twice_and_gives_back_a_later_deduction(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    first, _ = use(store, ids, key="k1", idempotent=False)
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    second, _ = use(store, ids, key="k2", idempotent=False, honour_tombstones=False)
    raised = points.refund_reservation(store, ids, reservation_id="res-1", now=3.0)
    assert [e.use_id for e in raised] == [second.use_id]
    refunds = [e.use_id for e in store.tables[points.LEDGER].values() if e.kind == "refund"]
    assert sorted(refunds) == sorted([first.use_id, second.use_id])
    assert points.balance(store, 1) == 100


def test_refund_only_touches_its_own_reservation(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    use(store, ids, key="a", reservation="res-a")
    use(store, ids, key="b", reservation="res-b")
    assert [e.reservation_id for e in points.refund_reservation(store, ids, reservation_id="res-a", now=2.0)] == ["res-a"]
    assert points.balance(store, 1) == 70


def test_refund_before_the_deduction_leaves_a_tombstone_that_refuses_it(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    assert points.refund_reservation(store, ids, reservation_id="res-1", now=1.0) == []
    assert store.get(points.TOMBSTONES, "res-1") == points.RefundTombstone("res-1", 1.0)
    with pytest.raises(DeductionCancelled):
        use(store, ids)
    assert points.balance(store, 1) == 100


def test_a_use_already_applied_is_answered_before_the_tombstone_is_consulted(
    store: MemoryStore, ids: CountingIds
) -> None:
    charge(store, ids)
    first, _ = use(store, ids)
    store.put(points.TOMBSTONES, "res-1", points.RefundTombstone("res-1", 1.5))
    assert use(store, ids) == (first, [])


def test_refund_of_a_refunded_reservation_leaves_no_tombstone(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    use(store, ids)
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    points.refund_reservation(store, ids, reservation_id="res-1", now=3.0)
    assert store.get(points.TOMBSTONES, "res-1") is None


def test_without_tombstones_a_late_deduction_stands(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    points.refund_reservation(store, ids, reservation_id="res-1", now=1.0, leave_tombstone=False)
    assert store.get(points.TOMBSTONES, "res-1") is None
    use(store, ids)
    assert points.balance(store, 1) == 70


def test_a_tombstone_is_ignored_when_tombstones_are_not_honoured(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    points.refund_reservation(store, ids, reservation_id="res-1", now=1.0)
    use(store, ids, honour_tombstones=False)
    assert points.balance(store, 1) == 70


def test_use_and_refund_read_each_others_writes_for_update_so_a_race_between_them_conflicts(
    store: ReadRecordingStore, ids: CountingIds
) -> None:
    charge(store, ids)
    store.read_for_update.clear()
    use(store, ids)
    assert (points.TOMBSTONES, "res-1") in store.read_for_update
    store.read_for_update.clear()
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    assert (points.USES_BY_RESERVATION, "res-1") in store.read_for_update


def test_ledger_always_equals_the_balance(store: MemoryStore, ids: CountingIds) -> None:
    points.open_account(store, 2, 0.0, initial_balance=50)
    charge(store, ids)
    use(store, ids, amount=30, key="a", reservation="res-a")
    use(store, ids, amount=20, key="b", reservation="res-b")
    points.refund_reservation(store, ids, reservation_id="res-a", now=2.0)
    points.refund_reservation(store, ids, reservation_id="res-a", now=3.0)
    assert points.ledger_balance(store, 1) == points.balance(store, 1) == 80
    assert points.ledger_balance(store, 2) == points.balance(store, 2) == 50


def test_a_charge_repeated_with_its_key_credits_once() -> None:
    from concertsim.models.store import CountingIds, MemoryStore

    store, ids = MemoryStore(), CountingIds()
    points.open_account(store, 5, 0.0)
    assert points.charge(store, ids, user_id=5, amount=300, now=1.0, idempotency_key="op-9")
    assert points.charge(store, ids, user_id=5, amount=300, now=2.0, idempotency_key="op-9") == []
    assert points.balance(store, 5) == 300 == points.ledger_balance(store, 5)
    entries = [store.get(points.LEDGER, k) for k in store.keys(points.LEDGER)]
    assert [(e.kind, e.request_key) for e in entries] == [("charge", "op-9")]


def test_a_replayed_key_of_a_refunded_deduction_is_refused_not_reported_taken() -> None:
    from concertsim.models.store import CountingIds, MemoryStore

    store, ids = MemoryStore(), CountingIds()
    points.open_account(store, 5, 0.0, initial_balance=500)
    points.use(store, ids, user_id=5, amount=500, reservation_id="res-1", idempotency_key="pay-res-1", now=1.0)
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    with pytest.raises(DeductionCancelled):
        points.use(store, ids, user_id=5, amount=500, reservation_id="res-1", idempotency_key="pay-res-1", now=3.0)
    assert points.balance(store, 5) == 500


def test_a_refund_that_finds_no_deduction_again_keeps_the_first_tombstone(store: MemoryStore, ids: CountingIds) -> None:
    points.refund_reservation(store, ids, reservation_id="res-1", now=1.0)
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    assert store.get(points.TOMBSTONES, "res-1") == points.RefundTombstone("res-1", 1.0)


def test_a_refund_writes_a_ledger_entry_naming_the_reservation_and_the_deduction(
    store: MemoryStore, ids: CountingIds
) -> None:
    charge(store, ids)
    deduction, _ = use(store, ids)
    points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    refund = [e for e in store.tables[points.LEDGER].values() if e.kind == "refund"]
    assert refund == [points.LedgerEntry(refund[0].entry_id, 1, "refund", 30, 2.0, reservation_id="res-1",
                                         use_id=deduction.use_id)]


def test_replaying_an_account_that_has_no_stream_names_the_user() -> None:
    with pytest.raises(UnknownAccount) as unknown:
        points.replay(MemoryStore(), 5)
    assert unknown.value.user == 5


def test_a_charge_of_one_point_is_credited(store: MemoryStore, ids: CountingIds) -> None:
    points.charge(store, ids, user_id=1, amount=1, now=0.5)
    assert points.balance(store, 1) == 1


def test_refusals_of_charges_and_balances_name_the_amount_or_the_user(store: MemoryStore, ids: CountingIds) -> None:
    with pytest.raises(InvalidAmount) as invalid:
        points.charge(store, ids, user_id=1, amount=0, now=0.5)
    assert invalid.value.amount == 0
    with pytest.raises(UnknownAccount) as unknown:
        points.balance(store, 6)
    assert unknown.value.user == 6


def test_a_use_records_the_deduction_and_its_ledger_entry_with_every_field(store: MemoryStore, ids: CountingIds) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5, idempotency_key="charge-1")
    assert store.get(points.LEDGER, "led-1") == points.LedgerEntry("led-1", 1, "charge", 100, 0.5,
                                                                   request_key="charge-1")
    deduction, _ = points.use(store, ids, user_id=1, amount=1, reservation_id="res-1", idempotency_key="pay-res-1",
                              now=1.0)
    assert deduction == points.PointUse("use-1", 1, "res-1", 1, "pay-res-1", 1.0, refunded_at=None)
    assert store.get(points.USES, "use-1") == deduction
    assert store.get(points.LEDGER, "led-2") == points.LedgerEntry("led-2", 1, "use", 1, 1.0, reservation_id="res-1",
                                                                   use_id="use-1")
    assert points.balance(store, 1) == 99


def test_every_deduction_of_a_reservation_is_refunded_together(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    first, _ = use(store, ids, key="k1")
    second, _ = use(store, ids, key="k2")
    assert store.get(points.USES_BY_RESERVATION, "res-1") == (first.use_id, second.use_id)
    raised = points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    assert [e.use_id for e in raised] == [first.use_id, second.use_id]
    assert points.balance(store, 1) == 100


def test_refused_uses_name_the_reservation_or_the_amount(store: MemoryStore, ids: CountingIds) -> None:
    charge(store, ids)
    with pytest.raises(InvalidAmount) as invalid:
        use(store, ids, amount=0)
    assert invalid.value.amount == 0
    points.refund_reservation(store, ids, reservation_id="res-1", now=1.0)
    with pytest.raises(DeductionCancelled) as tombstoned:
        use(store, ids)
    assert tombstoned.value.reservation == "res-1"
    use(store, ids, key="k2", reservation="res-2")
    points.refund_reservation(store, ids, reservation_id="res-2", now=2.0)
    with pytest.raises(DeductionCancelled) as replayed:
        use(store, ids, key="k2", reservation="res-2")
    assert replayed.value.reservation == "res-2"


@pytest.mark.parametrize("storage", [points.STATE_STORED, points.AccountStorage(sourced=True)],
                         ids=["state", "events"])
def test_a_change_to_an_unknown_account_names_the_user(ids: CountingIds, storage: points.AccountStorage) -> None:
    with pytest.raises(UnknownAccount) as unknown:
        points.charge(MemoryStore(), ids, user_id=9, amount=10, now=0.5, storage=storage)
    assert unknown.value.user == 9


def test_an_account_opened_with_one_point_has_it_on_its_ledger() -> None:
    store = MemoryStore()
    points.open_account(store, 7, 0.0, initial_balance=1)
    assert points.balance(store, 7) == 1 == points.ledger_balance(store, 7)
    assert store.get(points.LEDGER, "led-open-7") == points.LedgerEntry("led-open-7", 7, "charge", 1, 0.0)


def test_opening_an_account_reads_its_row_for_update_so_two_openings_conflict() -> None:
    store = ReadRecordingStore()
    points.open_account(store, 7, 0.0)
    assert (points.ACCOUNTS, 7) in store.read_for_update
    points.open_account(store, 8, 0.0, storage=points.AccountStorage(sourced=True))
    assert (points.STREAMS, (8, 0)) in store.read_for_update  # the stream's head: no event yet


def test_an_event_sourced_append_reads_the_streams_next_version_for_update() -> None:
    """Two concurrent appends to one stream conflict at commit because each read the version it
    writes for update (an expected-version check)."""
    store, ids = ReadRecordingStore(), CountingIds()
    sourced = points.AccountStorage(sourced=True)
    points.open_account(store, 5, 0.0, storage=sourced)
    points.charge(store, ids, user_id=5, amount=40, now=1.0, storage=sourced)
    points.charge(store, ids, user_id=5, amount=10, now=2.0, storage=sourced)
    assert {(points.STREAMS, (5, 1)), (points.STREAMS, (5, 2))} <= store.read_for_update


def test_an_append_finding_its_version_taken_names_the_stream_and_the_version() -> None:
    class ConcurrentAppend(MemoryStore):
        """A store where another transaction appended version 2, which plain reads do not see yet."""

        def get(self, table: str, key: Hashable) -> Any | None:
            return None if (table, key) == (points.STREAMS, (5, 2)) else super().get(table, key)

        def get_for_update(self, table: str, key: Hashable) -> Any | None:
            return self.tables.get(table, {}).get(key)

    store, ids = ConcurrentAppend(), CountingIds()
    sourced = points.AccountStorage(sourced=True)
    points.open_account(store, 5, 0.0, storage=sourced)
    points.charge(store, ids, user_id=5, amount=40, now=1.0, storage=sourced)
    store.put(points.STREAMS, (5, 2), "led-other")
    with pytest.raises(RuntimeError, match=r"^stream 5 already has version 2$"):
        points.charge(store, ids, user_id=5, amount=10, now=2.0, storage=sourced)


def test_an_opening_balance_is_in_the_first_snapshot() -> None:
    store = MemoryStore()
    points.open_account(store, 6, 0.0, initial_balance=70, storage=points.AccountStorage(sourced=True, snapshot_every=1))
    assert store.get(points.SNAPSHOTS, 6) == points.Snapshot(6, 1, 70)
