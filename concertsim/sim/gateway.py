"""The API gateway (seed 8): the single entry point. It rate-limits, checks the queue token of
protected routes with Queue (the check counts as the token's activity), and routes each public
endpoint to its service. The buyer's point balance and charge are protected too: a buyer topping
up in the middle of a purchase keeps their token alive by doing so."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, NamedTuple

import simpy

from concertsim.sim.host import Handler, Host
from concertsim.sim.network import Failed, Reply, Timeout

__all__ = ["Route", "ROUTES", "install_routes", "TokenBucket"]


class Route(NamedTuple):
    service: str
    endpoint: str
    needs_token: bool


ROUTES: dict[str, Route] = {
    "POST /api/v1/queue/tokens": Route("queue", "queue.issue_token", False),
    "GET /api/v1/queue/tokens/{tokenId}": Route("queue", "queue.token_status", False),
    "DELETE /api/v1/queue/tokens/{tokenId}": Route("queue", "queue.leave", False),
    "GET /api/v1/concerts/dates": Route("concert", "concert.dates", True),
    "GET /api/v1/concerts/dates/{date}/seats": Route("concert", "concert.seats", True),
    "GET /api/v1/concerts/ranking": Route("concert", "concert.ranking", False),
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


def _route_handler(route: Route, limiter: TokenBucket | None) -> Handler:
    def forward(host: Host, body: dict[str, Any], trace_id: str | None) -> Generator[simpy.Event, Any, Reply]:
        if limiter is not None and not limiter.admit(host.env.now):
            return Failed("rate-limited", "too many requests", transient=True)
        if route.needs_token:
            checked = yield from host.call(
                "queue", "queue.check", {"token_id": body.get("token_id")}, trace_id, retries=0
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
    for name, route in ROUTES.items():
        gateway.endpoints[name] = _route_handler(route, limiter)
