"""The payment saga's state machine: its transitions, and that every step is safe to repeat."""

from __future__ import annotations

import pytest

from concertsim.models import orchestration as o
from concertsim.models.orchestration import SagaState
from concertsim.models.store import MemoryStore


def begin(store: MemoryStore, now: float = 1.0, driver: int = 0) -> o.PaymentSaga:
    return o.begin_saga(store, saga_id="pay-res-1", reservation_id="res-1", user_id=1, amount=10, now=now, driver=driver)


def test_a_saga_goes_from_deducting_through_compensating_to_compensated_and_is_then_finished() -> None:
    store = MemoryStore()
    begin(store)
    assert [s.saga_id for s in o.unfinished_sagas(store)] == ["pay-res-1"]
    o.advance(store, saga_id="pay-res-1", to=SagaState.COMPENSATING, now=2.0)
    o.advance(store, saga_id="pay-res-1", to=SagaState.COMPENSATING, now=3.0)  # a repeated step changes nothing
    saga = o.advance(store, saga_id="pay-res-1", to=SagaState.COMPENSATED, now=4.0)
    assert (saga.state, saga.steps, saga.updated_at) == (SagaState.COMPENSATED, 2, 4.0)
    assert o.unfinished_sagas(store) == []


@pytest.mark.parametrize(("path", "illegal"), [
    ([SagaState.CONFIRMED], SagaState.COMPENSATING),
    ([SagaState.COMPENSATING], SagaState.CONFIRMED),
    ([], SagaState.COMPENSATED),
])
def test_the_machine_refuses_a_transition_it_does_not_have(path: list[SagaState], illegal: SagaState) -> None:
    store = MemoryStore()
    begin(store)
    for state in path:
        o.advance(store, saga_id="pay-res-1", to=state, now=2.0)
    with pytest.raises(o.IllegalTransition):
        o.advance(store, saga_id="pay-res-1", to=illegal, now=3.0)


def test_asking_again_returns_the_running_saga_and_restarts_a_declined_one() -> None:
    store = MemoryStore()
    first = begin(store)
    assert begin(store, now=5.0) is not None and store.get(o.SAGAS, "pay-res-1").started_at == first.started_at
    o.advance(store, saga_id="pay-res-1", to=SagaState.DECLINED, now=2.0)
    again = begin(store, now=6.0, driver=1)
    assert (again.state, again.started_at, again.driver) == (SagaState.DEDUCTING, 6.0, 1)


def test_adopting_a_saga_makes_the_new_incarnation_its_driver() -> None:
    store = MemoryStore()
    begin(store, driver=0)
    assert o.adopt(store, saga_id="pay-res-1", driver=3).driver == 3


def test_a_new_saga_records_its_payment_and_is_unfinished() -> None:
    store = MemoryStore()
    saga = o.begin_saga(store, saga_id="pay-res-2", reservation_id="res-2", user_id=4, amount=250, now=3.0,
                        driver="reservation#2@1")
    assert saga == o.PaymentSaga("pay-res-2", "res-2", 4, 250, SagaState.DEDUCTING, 3.0, 3.0, "reservation#2@1",
                                 steps=0)
    assert store.get(o.SAGAS, "pay-res-2") == saga
    assert store.get(o.UNFINISHED, "pay-res-2") is True


def test_a_declined_saga_asked_again_restarts_counting_the_restart_as_a_step() -> None:
    store = MemoryStore()
    begin(store)
    o.advance(store, saga_id="pay-res-1", to=SagaState.DECLINED, now=2.0)
    assert o.unfinished_sagas(store) == []
    again = begin(store, now=6.0)
    assert (again.steps, again.updated_at, again.state) == (2, 6.0, SagaState.DEDUCTING)
    assert [s.saga_id for s in o.unfinished_sagas(store)] == ["pay-res-1"]


def test_a_saga_moving_to_a_state_that_is_not_terminal_stays_unfinished() -> None:
    store = MemoryStore()
    begin(store)
    o.advance(store, saga_id="pay-res-1", to=SagaState.COMPENSATING, now=2.0)
    assert store.get(o.UNFINISHED, "pay-res-1") is True
    assert store.get(o.SAGAS, "pay-res-1").state == SagaState.COMPENSATING


def test_an_illegal_transition_names_the_saga_and_both_states() -> None:
    store = MemoryStore()
    begin(store)
    with pytest.raises(o.IllegalTransition, match="^payment saga pay-res-1: DEDUCTING -> COMPENSATED$"):
        o.advance(store, saga_id="pay-res-1", to=SagaState.COMPENSATED, now=2.0)


def test_an_adopted_saga_keeps_its_new_driver() -> None:
    store = MemoryStore()
    begin(store, driver=0)
    o.adopt(store, saga_id="pay-res-1", driver=3)
    assert store.get(o.SAGAS, "pay-res-1").driver == 3


def test_unfinished_sagas_are_listed_oldest_first_then_by_id() -> None:
    store = MemoryStore()
    for saga_id, started_at in [("pay-res-3", 2.0), ("pay-res-2", 1.0), ("pay-res-1", 2.0)]:
        o.begin_saga(store, saga_id=saga_id, reservation_id=saga_id[4:], user_id=1, amount=10, now=started_at,
                     driver=0)
    assert [s.saga_id for s in o.unfinished_sagas(store)] == ["pay-res-2", "pay-res-1", "pay-res-3"]


def test_a_declined_saga_whose_hold_expired_is_compensated_and_unfinished_again() -> None:
    store = MemoryStore()
    begin(store)
    o.advance(store, saga_id="pay-res-1", to=SagaState.DECLINED, now=2.0)
    assert o.unfinished_sagas(store) == []
    saga = o.compensate_declined(store, saga_id="pay-res-1", now=30.0)
    assert saga is not None and saga.state == SagaState.COMPENSATING and saga.updated_at == 30.0
    assert [s.saga_id for s in o.unfinished_sagas(store)] == ["pay-res-1"]
    assert o.compensate_declined(store, saga_id="pay-res-1", now=31.0) is None  # only a declined one
    assert o.compensate_declined(store, saga_id="pay-res-9", now=31.0) is None
