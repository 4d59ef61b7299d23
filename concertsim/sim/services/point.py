"""Point: prepaid points (seed 2). Charge, balance and "use" (called by Reservation); refunds on
ReservationFailedEvent (the compensation of seed 4.2.2).

Accounts are opened when users sign up, before the sale (the simulation loads one per user);
Point refuses a user it has no account for (``unknown-account``) on every endpoint rather than
reading them as a zero balance or opening an account for any id a request names."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models import points
from concertsim.models.errors import UnknownAccount
from concertsim.models.schemas import LEDGER_ENTRY
from concertsim.models.events import (
    Event,
    EventPayload,
    PointCharged,
    PointRefunded,
    PointUsed,
    ReservationFailed,
)
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.hosting.shift_routing import ShiftRouting
from concertsim.sim.infrastructure.network import Ok, Reply
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services.common import Job

__all__ = ["ENDPOINTS", "subscriptions", "jobs"]


def account_storage(host: Host) -> points.AccountStorage:
    """How this run's Point stores accounts (``design.point_storage``), and, during an upgrade of
    its stream events' schema, the versions it writes and replays them in now (seed 6.3)."""
    scenario = host.world.scenario
    sourced = scenario.design.point_storage == "events"
    rollout = scenario.schema_rollout()
    stream = None
    if sourced and rollout is not None and rollout.shipped and rollout.event_type == LEDGER_ENTRY:
        now = host.env.now
        stream = points.StreamVersions(rollout, rollout.written_version(now), rollout.reader_version(now))
    return points.AccountStorage(sourced=sourced, snapshot_every=scenario.storage.point_snapshot_every,
                                 stream=stream)


def _replay_cost(host: Host, user_id: Any, storage: points.AccountStorage,
                 trace_id: str | None) -> Generator[simpy.Event, Any, None]:
    """With event sourcing, the time to replay the user's events since their latest snapshot (as
    committed when the request is served): deriving a balance costs in proportion to them."""
    if not storage.sourced:
        return
    try:
        _, replayed = points.replay(host.db.begin(), user_id)
    except UnknownAccount:
        return  # refused by the handler itself
    cost = replayed * host.world.scenario.storage.replay_seconds_per_event
    host.world.record("point.replay", host.name, trace_id, user=user_id, events=replayed)
    if cost > 0:
        yield host.env.timeout(cost)


def _refund_replay_cost(host: Host, reservation_id: str, storage: points.AccountStorage,
                        trace_id: str | None) -> Generator[simpy.Event, Any, None]:
    """With event sourcing, the replay cost of each account a refund of ``reservation_id`` will
    append to (the users of its deductions, found through the reservation's projection)."""
    if not storage.sourced:
        return
    tx = host.db.begin()
    users = sorted({tx.get(points.USES, use_id).user_id
                    for use_id in tx.get(points.USES_BY_RESERVATION, reservation_id) or ()})
    for user_id in users:
        yield from _replay_cost(host, user_id, storage, trace_id)


def charge(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """Credit points; a request repeating an earlier one's ``idempotency_key`` credits nothing
    more and answers the current balance."""
    user_id, amount = body["user_id"], body["amount"]
    storage = account_storage(host)
    yield from _replay_cost(host, user_id, storage, trace_id)

    def work(tx: Transaction, now: float) -> tuple[int, list[EventPayload]]:
        raised = points.charge(tx, host.world, user_id=user_id, amount=amount, now=now,
                               idempotency_key=body.get("idempotency_key"), storage=storage)
        return points.balance(tx, user_id, storage), list(raised)

    balance = yield from host.transact(work, trace_id, label="point.charge")
    return Ok({"balance": balance})


def balance(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    storage = account_storage(host)
    yield from _replay_cost(host, body["user_id"], storage, trace_id)
    return Ok({"balance": points.balance(host.db.begin(), body["user_id"], storage)})


def use(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """Deduct points for a reservation. With idempotency keys a repeated request (a retry after a
    lost reply) is applied once; with cancel tombstones a request that arrives after the refund of
    its reservation is refused (seed 4.2.3)."""
    design = host.world.scenario.design
    key = body["idempotency_key"] if design.idempotency_keys else host.world.next_id("use-key")
    storage = account_storage(host)
    yield from _replay_cost(host, body["user_id"], storage, trace_id)

    def work(tx: Transaction, now: float) -> tuple[str, list[EventPayload]]:
        deduction, raised = points.use(
            tx, host.world, user_id=body["user_id"], amount=body["amount"],
            reservation_id=body["reservation_id"], idempotency_key=key, now=now,
            idempotent=design.idempotency_keys, honour_tombstones=design.cancel_tombstones, storage=storage,
        )
        return deduction.use_id, list(raised)

    use_id = yield from host.transact(work, trace_id, label="point.use")
    return Ok({"use_id": use_id})


def refund(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """The orchestrator's compensation command: give back every deduction of the reservation not
    yet refunded (leaving a tombstone if there is none, with cancel tombstones). Idempotent."""
    design = host.world.scenario.design
    storage = account_storage(host)
    yield from _refund_replay_cost(host, body["reservation_id"], storage, trace_id)

    def work(tx: Transaction, now: float) -> tuple[int, list[EventPayload]]:
        raised = points.refund_reservation(tx, host.world, reservation_id=body["reservation_id"], now=now,
                                           leave_tombstone=design.cancel_tombstones, storage=storage)
        return len(raised), list(raised)

    refunded = yield from host.transact(work, trace_id, label="point.refund")
    return Ok({"refunded": refunded})


ENDPOINTS = {"point.charge": charge, "point.balance": balance, "point.use": use, "point.refund": refund}
CALLS: dict[str, tuple[str, ...]] = {}
PUBLISHES = (PointCharged.TYPE, PointUsed.TYPE, PointRefunded.TYPE)


def subscriptions(host: Host) -> dict[str, EventWork]:
    """Without compensation Point does not listen for ReservationFailedEvent at all; nor in the
    orchestration flow, whose orchestrator commands the refund (``point.refund``). During a
    traffic shift each Point refunds only the users its store owns."""
    design = host.world.scenario.design
    routing = ShiftRouting(design.point_shift, host.world.scenario.workload.users) if design.point_shift else None
    if not design.compensation or design.payment_flow == "orchestration":
        return {}

    def refund(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        failed = event.payload
        assert isinstance(failed, ReservationFailed)
        if routing is not None and routing.host_for(failed.user_id) != host.name:
            return []  # during a shift, the other Point's store owns this user's account
        if host.owns is not None and not host.owns(failed.user_id):
            return []  # during a migration, the other Point's store owns this user's account
        return list(
            points.refund_reservation(
                tx, host.world, reservation_id=failed.reservation_id, now=now,
                leave_tombstone=design.cancel_tombstones, storage=account_storage(host),
            )
        )

    return {ReservationFailed.TYPE: refund}


def jobs(host: Host) -> dict[str, Job]:
    return {}
