"""The API gateway (seed 8): the single entry point. It rate-limits, authenticates the caller,
checks the queue token of protected routes with Queue (the token must be the caller's own, and the
check counts as its activity), and routes each public endpoint to its service. The buyer's point
balance and charge are protected too: a buyer topping up in the middle of a purchase keeps their
token alive by doing so.

Authorisation per route (seed 8.2): every route but the public ranking needs a verified
credential (``unauthenticated`` otherwise); the caller's identity replaces any ``user_id`` the
request names, and a request naming another user (``/points/{userId}`` of someone else) is
``forbidden``. The services refuse what is not the caller's: another user's token (Queue) or
reservation (Reservation) is ``not-owner``."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import simpy

from concertsim.models import identity
from concertsim.models.errors import DomainError, Forbidden
from concertsim.sim.hosting.host import Handler, Host
from concertsim.sim.infrastructure.network import Failed, Reply, Timeout

__all__ = ["Route", "ROUTES", "authorise", "install_routes", "TokenBucket"]


class Route(NamedTuple):
    service: str
    endpoint: str
    needs_token: bool
    public: bool = False
    """Served without a credential (the ranking)."""


ROUTES: dict[str, Route] = {
    "POST /api/v1/queue/tokens": Route("queue", "queue.issue_token", False),
    "GET /api/v1/queue/tokens/{tokenId}": Route("queue", "queue.token_status", False),
    "DELETE /api/v1/queue/tokens/{tokenId}": Route("queue", "queue.leave", False),
    "GET /api/v1/concerts/dates": Route("concert", "concert.dates", True),
    "GET /api/v1/concerts/dates/{date}/seats": Route("concert", "concert.seats", True),
    "GET /api/v1/concerts/ranking": Route("concert", "concert.ranking", False, public=True),
    "POST /api/v1/reservations": Route("reservation", "reservation.hold", True),
    "POST /api/v1/payments": Route("reservation", "reservation.pay", True),
    "GET /api/v1/reservations/{reservationId}": Route("reservation", "reservation.get", False),
    "POST /api/v1/points/charge": Route("point", "point.charge", True),
    "GET /api/v1/points/{userId}": Route("point", "point.balance", True),
}


class TokenBucket:
    """A global rate limit: ``rate`` requests per second on average, bursts up to one second's."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.updated_at = 0.0

    def admit(self, now: float) -> bool:
        self.tokens = min(self.rate, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def authorise(key: bytes, route: Route, body: dict[str, Any]) -> dict[str, Any]:
    """The request as forwarded: the credential verified and dropped, ``user_id`` set to the
    caller. Refuses :class:`~concertsim.models.errors.Unauthenticated` and :class:`Forbidden`."""
    forwarded = {name: value for name, value in body.items() if name != "credential"}
    if route.public:
        return forwarded
    caller = identity.authenticate(key, body.get("credential"))
    named = body.get("user_id", caller)
    if named != caller:
        raise Forbidden(caller, named)
    forwarded["user_id"] = caller
    return forwarded


def _route_handler(route: Route, limiter: TokenBucket | None, key: bytes) -> Handler:
    def forward(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
        if limiter is not None and not limiter.admit(host.env.now):
            return Failed("rate-limited", "too many requests", transient=True)
        try:
            body = authorise(key, route, body)
        except DomainError as refusal:
            return Failed(refusal.code, refusal.message)
        if route.needs_token:
            checked = yield from host.call(
                "queue", "queue.check", {"token_id": body.get("token_id"), "user_id": body["user_id"]},
                trace_id, retries=0,
            )
            if isinstance(checked, Failed) and not checked.transient:
                return checked
            if not checked.ok:
                return Failed("unavailable", "the token check did not complete", transient=True)
        timeout = host.world.scenario.network.gateway_timeout
        reply = yield from host.call(
            route.service, route.endpoint, body, trace_id, timeout=timeout, retries=0
        )
        if isinstance(reply, Timeout):
            return Failed("gateway-timeout", f"{route.service} did not answer", transient=True)
        return reply

    return forward


def install_routes(gateway: Host) -> None:
    rate = gateway.world.scenario.rules.rate_limit_per_second
    limiter = TokenBucket(rate) if rate is not None else None
    key = identity.signing_key_for(gateway.world.seed)
    for name, route in ROUTES.items():
        gateway.endpoints[name] = _route_handler(route, limiter, key)
