"""The payment saga as an explicit, persisted state machine (the orchestration alternative to seed
4.2.1's choreography): Reservation's orchestrator drives each payment through its steps and keeps
where it is in its own database, so that after a crash it resumes from there.

States: DEDUCTING (asking Point to deduct) → CONFIRMED (the reservation is paid) | DECLINED (Point
took nothing; the hold stands) | COMPENSATING (points may have been taken for a reservation that
failed: asking Point to give them back) → COMPENSATED. Without compensation in the design, a
failed payment ends FAILED with nothing given back. CONFIRMED, DECLINED, COMPENSATED and FAILED are
terminal, except that a DECLINED saga starts again when its payment is asked for again and is
compensated (→ COMPENSATING) when its hold expires unpaid, since a copy of a deduction request may
deduct after Point's answers. ``driver`` is the incarnation of the Reservation host whose process
drives the saga (with several Reservation replicas, the replica and its incarnation,
``reservation#2@1``): a saga whose driver is not a current incarnation lost its process in a crash
and is resumed by the recovery job.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from concertsim.models.store import Store

__all__ = [
    "SAGAS",
    "UNFINISHED",
    "SagaState",
    "TERMINAL",
    "PaymentSaga",
    "begin_saga",
    "advance",
    "compensate_declined",
    "adopt",
    "unfinished_sagas",
    "IllegalTransition",
]

SAGAS = "payment_sagas"
UNFINISHED = "payment_sagas_unfinished"
"""saga id -> True while the saga is not in a terminal state."""


class SagaState(enum.StrEnum):
    DEDUCTING = "DEDUCTING"
    COMPENSATING = "COMPENSATING"
    CONFIRMED = "CONFIRMED"
    DECLINED = "DECLINED"
    COMPENSATED = "COMPENSATED"
    FAILED = "FAILED"


TERMINAL = frozenset({SagaState.CONFIRMED, SagaState.DECLINED, SagaState.COMPENSATED, SagaState.FAILED})
_NEXT = {
    SagaState.DEDUCTING: frozenset({SagaState.CONFIRMED, SagaState.DECLINED, SagaState.COMPENSATING,
                                    SagaState.FAILED}),
    SagaState.DECLINED: frozenset({SagaState.COMPENSATING}),
    SagaState.COMPENSATING: frozenset({SagaState.COMPENSATED}),
}


class IllegalTransition(Exception):
    """A step asked for a transition the state machine does not have (a bug, not a refusal)."""


@dataclass(slots=True)
class PaymentSaga:
    saga_id: str
    reservation_id: str
    user_id: int
    amount: int
    state: SagaState
    started_at: float
    updated_at: float
    driver: int | str
    steps: int = 0
    """Transitions taken so far."""


def begin_saga(store: Store, *, saga_id: str, reservation_id: str, user_id: int, amount: int, now: float,
               driver: int | str) -> PaymentSaga:
    """Start the payment saga ``saga_id`` (one per payment), or return it if it exists: a payment
    asked for again (a client's retry, a new attempt after a decline) restarts a DECLINED saga at
    DEDUCTING and leaves any other as it is."""
    saga = store.get_for_update(SAGAS, saga_id)
    if saga is not None and saga.state != SagaState.DECLINED:
        return saga
    saga = PaymentSaga(saga_id, reservation_id, user_id, amount, SagaState.DEDUCTING, now, now, driver,
                       0 if saga is None else saga.steps + 1)
    store.put(SAGAS, saga_id, saga)
    store.put(UNFINISHED, saga_id, True)
    return saga


def advance(store: Store, *, saga_id: str, to: SagaState, now: float) -> PaymentSaga:
    """Move the saga to ``to``; raises :class:`IllegalTransition` for a transition the machine does
    not have. Advancing to the state it is in changes nothing (a step repeated after a crash)."""
    saga = store.get_for_update(SAGAS, saga_id)
    if saga.state == to:
        return saga
    if to not in _NEXT.get(saga.state, ()):
        raise IllegalTransition(f"payment saga {saga_id}: {saga.state} -> {to}")
    saga.state, saga.updated_at, saga.steps = to, now, saga.steps + 1
    store.put(SAGAS, saga_id, saga)
    if to in TERMINAL:
        store.delete(UNFINISHED, saga_id)
    else:
        store.put(UNFINISHED, saga_id, True)
    return saga


def compensate_declined(store: Store, *, saga_id: str, now: float) -> PaymentSaga | None:
    """The hold of a DECLINED saga's payment expired: move it to COMPENSATING, so that Point is
    commanded to give back what a late copy of a deduction request took, or to leave a tombstone
    against one still travelling. Any other saga (or none) is left as it is and None returned."""
    saga = store.get_for_update(SAGAS, saga_id)
    if saga is None or saga.state != SagaState.DECLINED:
        return None
    return advance(store, saga_id=saga_id, to=SagaState.COMPENSATING, now=now)


def adopt(store: Store, *, saga_id: str, driver: int | str) -> PaymentSaga:
    """Make ``driver`` the saga's driver (the recovery job taking over an orphaned saga)."""
    saga = store.get_for_update(SAGAS, saga_id)
    saga.driver = driver
    store.put(SAGAS, saga_id, saga)
    return saga


def unfinished_sagas(store: Store) -> list[PaymentSaga]:
    """The sagas not yet in a terminal state, oldest first."""
    sagas = [store.get(SAGAS, saga_id) for saga_id in store.keys(UNFINISHED)]
    return sorted(sagas, key=lambda s: (s.started_at, s.saga_id))
