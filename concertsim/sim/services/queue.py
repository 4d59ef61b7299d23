"""Queue: the waiting room (seed 2). Tokens are issued in order, activated up to the capacity by a
scheduled activator, expired by a sweeper when stale (a waiting token its user stopped polling, an
active one without requests: ``models.queue.is_stale``) and on completion. The gateway checks a
token on every protected request; the check, like a waiting user's poll, is a sign of presence.
The seed lists no subscription for Queue; "expired on completion" needs one, so Queue consumes
ReservationCompletedEvent to end the buyer's token. A buyer thinking over a held seat keeps the
token alive by the checkout page's requests, as with any other activity (no event tells Queue of
the hold)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from concertsim.models import queue
from concertsim.models.events import (
    Event,
    EventPayload,
    QueueTokenActivated,
    QueueTokenExpired,
    ReservationCompleted,
)
from concertsim.sim.hosting.host import EventWork, Host
from concertsim.sim.infrastructure.network import Ok, Reply
from concertsim.sim.infrastructure.storage import Transaction
from concertsim.sim.services.common import Job, every

__all__ = ["ENDPOINTS", "subscriptions", "jobs"]


def issue(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    def work(tx: Transaction, now: float) -> tuple[queue.QueueToken, list[EventPayload]]:
        return queue.issue_token(tx, host.world, user_id=body["user_id"], now=now), []

    token = yield from host.transact(work, trace_id, label="queue.issue_token")
    return Ok({"token_id": token.token_id, "status": str(token.status)})


def token_status(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """The caller's token's status and place in line (a foreign token is refused); the poll keeps a
    waiting token from going stale."""

    def work(tx: Transaction, now: float) -> tuple[tuple[str, int], list[EventPayload]]:
        token = queue.poll(tx, token_id=body["token_id"], user_id=body["user_id"], now=now)
        return (str(token.status), queue.position(tx, body["token_id"])), []

    status, place = yield from host.transact(work, trace_id, label="queue.poll")
    return Ok({"status": status, "position": place})


def check(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """The gateway's token check: refuses another user's token and an inactive one, and counts as
    activity."""

    def work(tx: Transaction, now: float) -> tuple[None, list[EventPayload]]:
        queue.check_active(tx, token_id=body["token_id"], user_id=body["user_id"], now=now)
        return None, []

    yield from host.transact(work, trace_id, label="queue.check")
    return Ok({"active": True})


def leave(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
    """A user gives their token back (leaving the waiting room, or done with it)."""

    def work(tx: Transaction, now: float) -> tuple[None, list[EventPayload]]:
        return None, list(queue.leave(tx, token_id=body["token_id"], user_id=body["user_id"], now=now))

    yield from host.transact(work, trace_id, label="queue.leave")
    return Ok({"left": True})


ENDPOINTS = {"queue.issue_token": issue, "queue.token_status": token_status, "queue.check": check,
             "queue.leave": leave}
CALLS: dict[str, tuple[str, ...]] = {}
PUBLISHES = (QueueTokenActivated.TYPE, QueueTokenExpired.TYPE)


def subscriptions(host: Host) -> dict[str, EventWork]:
    def complete(tx: Transaction, now: float, event: Event) -> list[EventPayload]:
        assert isinstance(event.payload, ReservationCompleted)
        if host.serves is not None and not host.serves():
            return []  # the store that owns the waiting line ends the token; a copy brings it here
        return list(queue.complete(tx, user_id=event.payload.user_id, now=now))

    return {ReservationCompleted.TYPE: complete}


def jobs(host: Host) -> dict[str, Job]:
    rules = host.world.scenario.rules

    def activate(host: Host) -> Generator[simpy.Event, Any, None]:
        def work(tx: Transaction, now: float) -> tuple[None, list[EventPayload]]:
            return None, list(queue.activate_waiting(
                tx, capacity=rules.queue_capacity, now=now, waiting_ttl=rules.waiting_token_ttl))

        yield from host.transact(work, None, label="queue.activate")

    def expire(host: Host) -> Generator[simpy.Event, Any, None]:
        def work(tx: Transaction, now: float) -> tuple[None, list[EventPayload]]:
            return None, list(queue.expire_idle(
                tx, idle_ttl=rules.token_idle_ttl, now=now, waiting_ttl=rules.waiting_token_ttl))

        yield from host.transact(work, None, label="queue.expire_idle")

    return {
        "token-activator": every(host, rules.activation_interval, "queue.activate", activate),
        "token-expirer": every(host, rules.sweep_interval, "queue.expire_idle", expire),
    }
