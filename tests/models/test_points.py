"""Point's rules: balances never negative, a ledger that always balances, idempotent use,
refunds once, tombstones against late deductions (seed 4.2.2, 4.2.3)."""

from __future__ import annotations

import pytest

from concertsim.models import points
from concertsim.models.errors import DeductionCancelled, InsufficientPoints, InvalidAmount, UnknownAccount
from concertsim.models.events import PointCharged, PointRefunded, PointUsed
from concertsim.models.store import CountingIds, MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    points.open_account(store, 1, 0.0)
    return store


ids = CountingIds()


def use(store: MemoryStore, amount: int = 30, key: str = "pay-res-1", reservation: str = "res-1", **options):
    return points.use(store, ids, user_id=1, amount=amount, reservation_id=reservation,
                      idempotency_key=key, now=1.0, **options)


def test_charge_adds_points_and_raises_point_charged(store: MemoryStore) -> None:
    raised = points.charge(store, ids, user_id=1, amount=100, now=0.5)
    assert points.balance(store, 1) == 100
    assert raised == [PointCharged(user_id=1, amount=100, balance=100)]


@pytest.mark.parametrize("amount", [0, -5])
def test_charge_refuses_non_positive_amounts(store: MemoryStore, amount: int) -> None:
    with pytest.raises(InvalidAmount):
        points.charge(store, ids, user_id=1, amount=amount, now=0.5)


def test_charge_refuses_an_unknown_account(store: MemoryStore) -> None:
    with pytest.raises(UnknownAccount):
        points.charge(store, ids, user_id=2, amount=10, now=0.5)


def test_opening_balance_is_a_ledger_charge() -> None:
    store = MemoryStore()
    points.open_account(store, 7, 0.0, initial_balance=500)
    points.open_account(store, 7, 1.0, initial_balance=999)
    assert points.balance(store, 7) == 500 == points.ledger_balance(store, 7)


def test_use_deducts_and_raises_point_used(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    deduction, raised = use(store)
    assert points.balance(store, 1) == 70
    assert isinstance(raised[0], PointUsed) and raised[0].use_id == deduction.use_id


def test_use_refuses_insufficient_points_and_leaves_the_balance(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=20, now=0.5)
    with pytest.raises(InsufficientPoints) as refused:
        use(store, amount=30)
    assert (refused.value.balance, refused.value.needed) == (20, 30)
    assert points.balance(store, 1) == 20


def test_use_with_same_key_is_applied_once(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    first, _ = use(store)
    again, raised = use(store)
    assert again.use_id == first.use_id and raised == []
    assert points.balance(store, 1) == 70


def test_use_without_idempotency_deducts_twice(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    use(store, key="k1", idempotent=False)
    use(store, key="k2", idempotent=False)
    assert points.balance(store, 1) == 40


def test_refund_gives_back_each_deduction_once(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    deduction, _ = use(store)
    raised = points.refund_reservation(store, ids, reservation_id="res-1", now=2.0)
    assert [type(e) for e in raised] == [PointRefunded]
    assert points.refund_reservation(store, ids, reservation_id="res-1", now=3.0) == []
    assert points.balance(store, 1) == 100
    assert store.get(points.USES, deduction.use_id).refunded_at == 2.0


def test_refund_before_the_deduction_leaves_a_tombstone_that_refuses_it(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    assert points.refund_reservation(store, ids, reservation_id="res-1", now=1.0) == []
    with pytest.raises(DeductionCancelled):
        use(store)
    assert points.balance(store, 1) == 100


def test_without_tombstones_a_late_deduction_stands(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    points.refund_reservation(store, ids, reservation_id="res-1", now=1.0, leave_tombstone=False)
    use(store, honour_tombstones=False)
    assert points.balance(store, 1) == 70


def test_ledger_always_equals_the_balance(store: MemoryStore) -> None:
    points.charge(store, ids, user_id=1, amount=100, now=0.5)
    use(store, amount=30, key="a", reservation="res-a")
    use(store, amount=20, key="b", reservation="res-b")
    points.refund_reservation(store, ids, reservation_id="res-a", now=2.0)
    assert points.ledger_balance(store, 1) == points.balance(store, 1) == 80
