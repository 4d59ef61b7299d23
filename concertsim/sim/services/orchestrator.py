"""The payment saga orchestrator (``payment_flow=orchestration``), inside Reservation.

A payment request starts a saga (persisted with the payment, :mod:`concertsim.models.orchestration`)
and is answered "pending"; a process of the Reservation host then drives the saga step by step,
each step one local transaction that changes the reservation and the saga's state together:

- DEDUCTING: ask Point to deduct (``point.use``, keyed by the payment; "unavailable" and no answer
  alike retried while the hold has time, as a Temporal activity is retried until its deadline).
  Point took nothing → DECLINED (the hold stands; if it expires unpaid, the sweeper moves the saga
  to COMPENSATING, since a copy of a request may still deduct). Deducted → confirm: CONFIRMED, or,
  if the hold is gone, fail the reservation → COMPENSATING. No answer by the deadline → fail →
  COMPENSATING.
- COMPENSATING: command Point to give back what it took for the reservation (``point.refund``,
  idempotent, leaving a tombstone against a late deduction) until it answers → COMPENSATED.
  Without compensation in the design the saga ends FAILED instead, and nothing is given back.

Compensation is the orchestrator's command, not an event: Point does not consume
ReservationFailedEvent in this flow. A crash kills the driving process; the recovery job
(every ``rules.sweep_interval``) adopts each unfinished saga whose driver died and drives it on
from its persisted state, so every step is safe to repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any
from weakref import WeakKeyDictionary

import simpy

from concertsim.models import orchestration, reservations
from concertsim.models.errors import HoldExpired
from concertsim.models.events import EventPayload
from concertsim.models.orchestration import SagaState
from concertsim.models.reservations import PaymentStatus
from concertsim.sim.hosting.host import Host, Unavailable
from concertsim.sim.infrastructure.network import Failed, Ok, Reply
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services.payments import MAX_BACKOFF, confirm_or_fail, decline, fail, start_or_expire, use_points

__all__ = ["start_saga", "resume_sagas", "compensate_expired", "drive", "CALLS"]

CALLS = {"reservation.pay": ("point.use", "point.refund")}
"""The calls a payment's saga makes on the payment's behalf: the deduction, and the refund it
commands when it compensates (for the architecture graph; the saga's driver makes them)."""

_DRIVEN: WeakKeyDictionary[Host, tuple[int, set[str]]] = WeakKeyDictionary()


def _driven(host: Host) -> set[str]:
    """The sagas a process of this incarnation of ``host`` is driving."""
    kept = _DRIVEN.get(host)
    if kept is None or kept[0] != host.incarnation:
        kept = _DRIVEN[host] = (host.incarnation, set())
    return kept[1]


def _driver_id(host: Host) -> int | str:
    """Who drives a saga, as its row says: the host's incarnation, and with several Reservation
    replicas the replica too (``reservation#2@1``)."""
    return host.incarnation if host.name == host.service else f"{host.name}@{host.incarnation}"


def _orphaned(host: Host, saga: orchestration.PaymentSaga) -> bool:
    """Whether no live process drives ``saga``: its driver is not this incarnation of ``host``
    (nor, with replicas, an incarnation of a replica that the consumer group's coordinator knows as
    a member: a driver holds its sagas through its group session, and loses them when it is evicted).

    With replicas the recovery job adopts under the recovery lease: a job whose fencing token is
    stale (its replica was evicted while paused or cut off) adopts nothing, with ``design.fencing``.
    """
    group = host.membership
    if group is None or not isinstance(saga.driver, str):
        return saga.driver != _driver_id(host) or saga.saga_id not in _driven(host)
    if saga.driver == _driver_id(host) and saga.saga_id in _driven(host):
        return False
    return not group.drives(saga.driver) and group.holds_lease(host, "saga recovery")


def start_saga(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """``POST /payments`` in the orchestration flow: start (or find) the payment's saga, make sure
    a process drives it, and answer "pending" ("confirmed" for a payment already confirmed)."""
    reservation_id, user_id = body["reservation_id"], body["user_id"]
    saga_id = reservations.payment_id_for(reservation_id)

    def work(tx: Transaction, now: float) -> tuple[orchestration.PaymentSaga | HoldExpired | None, list[EventPayload]]:
        existing = tx.get(orchestration.SAGAS, saga_id)
        if existing is not None and existing.state != SagaState.DECLINED:
            reservations.reservation_status(tx, reservation_id, user_id=user_id)  # the caller's own only
            return existing, []
        started, expired = start_or_expire(tx, reservation_id=reservation_id, user_id=user_id, now=now, pending=True)
        if isinstance(started, HoldExpired):
            return started, expired
        if started.status == reservations.ReservationStatus.CONFIRMED:
            return None, []
        return orchestration.begin_saga(tx, saga_id=saga_id, reservation_id=reservation_id, user_id=user_id,
                                        amount=started.amount, now=now, driver=_driver_id(host)), []

    saga = yield from host.transact(work, trace_id, label="reservation.start_saga")
    if isinstance(saga, HoldExpired):
        return Failed(saga.code, saga.message)  # answered, not raised: the expiry commits with it
    if saga is None or saga.state == SagaState.CONFIRMED:
        return Ok({"status": "confirmed"})
    if host.name == host.service or saga.driver == _driver_id(host):
        # Another replica's saga is left to it, or, if it died, to the recovery job.
        _ensure_driven(host, saga.saga_id, trace_id)
    return Ok({"status": "pending"})


def _ensure_driven(host: Host, saga_id: str, trace_id: str | None) -> None:
    driven = _driven(host)
    if saga_id not in driven:
        driven.add(saga_id)
        host.spawn(_drive(host, saga_id, trace_id))


Work = Callable[[Transaction, float], tuple[Any, list[EventPayload]]]
"""A local transaction's work, as ``host.transact`` takes it."""


def _step(saga_id: str, to_for: Callable[[Any], SagaState], business: Work | None = None) -> Work:
    """A transaction that does ``business`` (a work function, or none) and moves the saga to
    ``to_for(outcome)``: the business change and the saga's state commit together."""

    def work(tx: Transaction, now: float) -> tuple[SagaState, list[EventPayload]]:
        outcome, raised = business(tx, now) if business is not None else (None, [])
        to = to_for(outcome)
        orchestration.advance(tx, saga_id=saga_id, to=to, now=now)
        return to, raised

    return work


def _commit_step(
    host: Host, step: Work, trace_id: str | None, saga: orchestration.PaymentSaga | None = None,
) -> Generator[simpy.Event, Any, bool]:
    """Commit a saga step; False if the database could not commit it now (the step is taken again
    from the saga's persisted state, which did not change). Given the ``saga`` as the driver read
    it, a replica's step is fenced by the driver id in the row (:func:`_as_driver`)."""
    if saga is not None and host.membership is not None:
        step = _as_driver(host, saga, step)
    try:
        yield from host.transact(step, trace_id, label="reservation.saga_step")
    except Unavailable:
        return False
    return True


class SagaTakenOver(Unavailable):
    """The saga's row names another driver: the recovery job adopted it after this replica was
    evicted from its group (a zombie driver), and the step is refused."""


def _as_driver(host: Host, believed: orchestration.PaymentSaga, step: Work) -> Work:
    """``step`` as the write of a driver that acts on the state it last read (``UPDATE ... SET
    state = ...``, from memory), conditional on the saga's driver id, its fencing token (``WHERE
    driver = me``): with ``design.fencing`` a driver that is no longer the row's is refused
    (``saga.step_fenced``). Without, where another driver moved the saga on meanwhile
    (``saga.stale_step``), the step overwrites the row's state with the one it read and takes its
    transition from there. (With fencing, only its driver moves a saga it drives: what the driver
    read is what the row holds.)"""
    group = host.membership
    assert group is not None
    me = _driver_id(host)

    def work(tx: Transaction, now: float) -> tuple[Any, list[EventPayload]]:
        saga = tx.get_for_update(orchestration.SAGAS, believed.saga_id)
        if saga is None:
            return step(tx, now)
        if group.fencing and saga.driver != me:
            host.world.record("saga.step_fenced", host.name, saga_id=saga.saga_id, driver=saga.driver)
            raise SagaTakenOver(f"{me}: saga {saga.saga_id} is driven by {saga.driver}")
        if saga.state != believed.state:
            host.world.record("saga.stale_step", host.name, saga_id=saga.saga_id, driver=saga.driver,
                              state=str(saga.state), believed=str(believed.state))
            saga.state = believed.state
            tx.put(orchestration.SAGAS, saga.saga_id, saga)
            if believed.state not in orchestration.TERMINAL:
                tx.put(orchestration.UNFINISHED, saga.saga_id, True)
        return step(tx, now)

    return work


def _drive(host: Host, saga_id: str, trace_id: str | None) -> Generator[simpy.Event, Any, None]:
    """Drive the saga from its persisted state to a terminal one; a step the database could not
    commit is taken again after a backoff."""
    design, network = host.world.scenario.design, host.world.scenario.network
    gave_up = SagaState.COMPENSATING if design.compensation else SagaState.FAILED
    attempt = 0
    try:
        while True:
            saga = host.db.begin().get(orchestration.SAGAS, saga_id)
            if saga is None:
                return  # its start never committed (the request's transaction, in a monolith, failed)
            if saga.state in orchestration.TERMINAL:
                return
            if host.membership is not None and host.membership.fencing and saga.driver != _driver_id(host):
                return  # adopted by the recovery job while this replica was away: its driver now
            if saga.state == SagaState.DEDUCTING:
                reservation = host.db.begin().get(reservations.RESERVATIONS, saga.reservation_id)
                used, in_doubt = yield from use_points(host, reservation, trace_id, until_hold_expires=True)
                if isinstance(used, Failed) and not in_doubt:
                    # Point took nothing from this driver's requests; but if the hold expired while
                    # they were out, the sweeper failed the payment, and a copy of a request still
                    # travelling may deduct: compensate (Point leaves a tombstone or refunds).
                    step = _step(saga_id, lambda status: gave_up if status == PaymentStatus.FAILED else SagaState.DECLINED,
                                 decline(saga.reservation_id))
                elif used.ok:
                    step = _step(saga_id, lambda outcome: SagaState.CONFIRMED if outcome == "confirmed" else gave_up,
                                 confirm_or_fail(saga.reservation_id))
                else:
                    # No answer by the hold's deadline: the driver compensates, a decision it takes
                    # from its own calls (as a workflow does on its activity's timeout), not from the
                    # reservation. Only another driver can have confirmed it meanwhile (a zombie's
                    # adopter): ``fail`` then leaves the reservation as it is, and fencing must
                    # refuse this step, or the refund below gives a sold seat's points back.
                    step = _step(saga_id, lambda _: gave_up, fail(saga.reservation_id, "point-use-unknown"))
                if not (yield from _commit_step(host, step, trace_id, saga)):
                    attempt += 1
                    yield host.env.timeout(min(network.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF))
                continue
            refunded = yield from host.call("point", "point.refund", {"reservation_id": saga.reservation_id},
                                            trace_id, key=f"user-{saga.user_id}", retries=0)
            if refunded.ok and (yield from _commit_step(host, _step(saga_id, lambda _: SagaState.COMPENSATED), trace_id,
                                                        saga)):
                continue
            attempt += 1
            yield host.env.timeout(min(network.retry_backoff * 2 ** (attempt - 1), MAX_BACKOFF))
    finally:
        _driven(host).discard(saga_id)


def compensate_expired(host: Host, tx: Transaction, saga_id: str, now: float) -> str | None:
    """In the sweeper's transaction, on the hold of a DECLINED saga's payment expiring: move the
    saga to COMPENSATING (:func:`orchestration.compensate_declined`) and, with replicas, make the
    sweeper's replica its driver, since the process that drove it ended at DECLINED and the
    recovery job adopts only the sagas of a replica that left its group. Returns the saga id for
    :func:`drive` after the commit, or None (nothing to compensate, or one host, whose recovery job
    adopts the saga)."""
    saga = orchestration.compensate_declined(tx, saga_id=saga_id, now=now)
    if saga is None or host.membership is None:
        return None
    orchestration.adopt(tx, saga_id=saga_id, driver=_driver_id(host))
    return saga_id


def drive(host: Host, saga_ids: list[str]) -> None:
    """Make sure a process of ``host`` drives each of ``saga_ids`` (sagas it was made driver of)."""
    for saga_id in saga_ids:
        _ensure_driven(host, saga_id, None)


def resume_sagas(host: Host) -> Generator[simpy.Event, Any, None]:
    """The recovery job: adopt every unfinished saga no live process is driving (its driver died in
    a crash), and drive it on. With replicas it runs on one of them (the lease holder) and adopts
    the orphans of every replica."""

    def work(tx: Transaction, now: float) -> tuple[list[str], list[EventPayload]]:
        orphans = [s for s in orchestration.unfinished_sagas(tx) if _orphaned(host, s)]
        for saga in orphans:
            orchestration.adopt(tx, saga_id=saga.saga_id, driver=_driver_id(host))
        return [s.saga_id for s in orphans], []

    adopted = yield from host.transact(work, None, label="reservation.resume_sagas")
    for saga_id in adopted:
        _ensure_driven(host, saga_id, None)
