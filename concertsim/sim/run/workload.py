"""Simulated users (ARCHITECTURE.md, "Workload").

Users arrive in a flash crowd at ticket opening (a share of them later, when expired holds have
released seats again) or steadily. Some look at the fast sell-out ranking first. Each one takes a
queue token, waits for it to be activated (polling it; a user whose place expired joins the line
again), lists the open dates (one admitted before the sale opens refreshes the list until dates
appear or their patience runs out), lists a date's seats, holds a free seat (trying another if it
was taken), thinks it over (the checkout page keeps the session alive meanwhile), tops up points if
short, and then pays or abandons the hold; some buyers look at the ranking after booking. A share of
users close the tab without a word, in line or with a seat held: they give nothing back. Requests
that time out are retried; a hold and a charge carry the operation's id as their idempotency key, so
a retry after a lost reply is answered with the first attempt's effect, not a second one. Every
operation is recorded in the history as invoke → ok | fail | unknown, and every visit's end as a
``client.exit`` record naming why it ended (read by the funnel).

Users signed in before the sale: every request carries the session credential the gateway
issued its user (sign-in itself is not simulated).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from concertsim.models import identity
from concertsim.scenarios.schema import Workload as WorkloadSpec
from concertsim.sim.hosting.host import Host
from concertsim.sim.infrastructure.network import Failed, Network, Reply, Timeout
from concertsim.sim.infrastructure.random_streams import sampler
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.history import ClientOp, Outcome

__all__ = ["Workload", "CLIENT", "EXIT_REASONS"]

CLIENT = "client"
EXIT_REASONS = (
    "confirmed", "payment-unknown", "payment-failed", "abandoned-hold", "vanished", "token-expired",
    "gave-up-waiting", "left-before-opening", "sold-out", "no-seat", "charge-failed", "refused",
)
"""Why a visit ended, as the client saw it (``client.exit``): paid and told so, payment outcome
unknown or failed, left a hold unpaid, closed the tab without a word, refused for an ended queue
token, out of patience in line, out of patience before the sale opened, no date with a free seat,
no seat held after every attempt, top-up failed, or another refusal."""
_UNKNOWN_CODES = frozenset({"gateway-timeout"})
# Refusals by the gateway, before the request reaches the service: they say nothing about what an
# earlier attempt of the same operation did.
_GATEWAY_REFUSALS = frozenset({"token-not-active", "token-not-found", "rate-limited", "unavailable"})
_NOT_FORWARDED = frozenset({"rate-limited"})
"""A transient refusal the gateway gives before forwarding (429): the request took no effect."""


def payment_in_doubt(reply: Reply) -> bool:
    """Whether a reply to ``POST /payments`` (or to another keyed request, such as a charge) leaves
    its effect unknown: no answer, or a transient failure (503, 504, a failed commit) that a copy of
    the request or a step already committed may still complete. Only a definite refusal or the
    gateway's 429 is a failure."""
    if isinstance(reply, Timeout):
        return True
    return isinstance(reply, Failed) and reply.transient and reply.code not in _NOT_FORWARDED


_PAY_EXITS: dict[Outcome, str] = {"ok": "confirmed", "unknown": "payment-unknown", "fail": "payment-failed"}


def _refusal(reply: Reply) -> str:
    """The exit reason of a visit ended by the refusal ``reply``."""
    return "token-expired" if reply.code == "token-not-active" else "refused"


def classify(reply: Reply) -> Outcome:
    if reply.ok:
        return "ok"
    if isinstance(reply, Timeout) or reply.code in _UNKNOWN_CODES:
        return "unknown"
    return "fail"


class Workload:
    """Starts users and keeps the history. ``active_users`` counts sessions still running."""

    def __init__(self, world: World, network: Network, gateway: Host) -> None:
        self.world = world
        self.env = world.env
        self.network = network
        self.gateway = gateway
        self.spec: WorkloadSpec = world.scenario.workload
        self.price = world.scenario.concerts.price
        self.rng = world.rng("workload/behaviour")
        self._arrivals = world.rng("workload/arrivals")
        self._think = sampler(self.spec.think_time, world.rng("workload/think"))
        self._refresh = sampler(self.spec.refresh_interval, world.rng("workload/refresh"))
        self._abandon = world.rng("workload/abandon")
        self._ranking = world.rng("workload/ranking")
        concerts = world.scenario.concerts
        self._last_opening = max(concerts.opening_of(d) for d in range(1, concerts.dates + 1))
        self.history: list[ClientOp] = []
        self.active_users = 0
        self.arrived = 0
        self._tokens: dict[int, str | None] = {}
        self._signing_key = identity.signing_key_for(world.seed)
        self._credentials: dict[int, str] = {}
        """user id -> the session credential of a user whose visit is under way"""

    def start(self) -> None:
        self.env.process(self._arrive())

    def _arrive(self) -> Generator[simpy.Event, Any, None]:
        spec = self.spec
        if spec.arrival == "flash_crowd":
            late = round(spec.users * spec.late_fraction)
            times = sorted(
                [self._arrivals.uniform(0, spec.flash_window) for _ in range(spec.users - late)]
                + [self._arrivals.uniform(spec.flash_window, max(spec.flash_window, spec.duration))
                   for _ in range(late)]
            )
        else:
            times, t = [], 0.0
            while len(times) < spec.users:
                t += self._arrivals.expovariate(spec.rate_per_second)
                if t >= spec.duration:
                    break
                times.append(t)
        for user_id, at in enumerate(times, start=1):
            if at > self.env.now:
                yield self.env.timeout(at - self.env.now)
            self.arrived += 1
            self.env.process(self._session(user_id))

    # --- one user --------------------------------------------------------------------------------

    def _session(self, user_id: int) -> Generator[simpy.Event, Any, None]:
        """One user's visit. A user who got a queue token gives it back when they leave, however
        the visit ended (a completed purchase has ended it already; giving it back is then a
        no-op), so that the place goes to the next in line; a user who vanished does not."""
        self.active_users += 1
        self._tokens[user_id] = None
        self._credentials[user_id] = identity.issue_credential(self._signing_key, user_id)
        vanishes = self._abandon.random() < self.spec.abandon_share
        where = self._abandon.choice(("waiting", "holding"))
        looks_first, looks_after = (self._ranking.random() < self.spec.ranking_share for _ in range(2))
        try:
            if looks_first:
                yield from self._look_at_ranking(user_id)
            reason = yield from self._book(user_id, where if vanishes else None)
            if reason == "confirmed" and looks_after:
                yield from self._look_at_ranking(user_id)
            token = self._tokens.pop(user_id)
            if token is not None and reason != "vanished":
                yield from self._request(
                    user_id, "leave", "DELETE /api/v1/queue/tokens/{tokenId}",
                    {"user_id": user_id, "token_id": token},
                )
            self.world.record("client.exit", CLIENT, None, user=user_id, reason=reason)
        finally:
            self.active_users -= 1
            self._credentials.pop(user_id, None)

    def _look_at_ranking(self, user_id: int) -> Generator[simpy.Event, Any, None]:
        yield from self._request(user_id, "ranking", "GET /api/v1/concerts/ranking", {})

    def _book(self, user_id: int, vanishes: str | None) -> Generator[simpy.Event, Any, str]:
        """The visit from joining the line to paying; returns why it ended (:data:`EXIT_REASONS`).
        ``vanishes`` says where the user closes the tab: ``waiting`` (right after joining the
        line), ``holding`` (right after holding a seat) or nowhere (None)."""
        spec, rng, env = self.spec, self.rng, self.env
        gave_up_at = env.now + spec.patience
        token, ended = yield from self._admitted(user_id, gave_up_at, vanishes == "waiting")
        if token is None:
            return ended
        base = {"user_id": user_id, "token_id": token}
        listed = yield from self._dates(user_id, base, gave_up_at)
        if not listed.ok:
            return _refusal(listed)
        if not listed.value["dates"]:
            return "left-before-opening" if env.now < self._last_opening else "sold-out"
        date_id = rng.choice(listed.value["dates"])
        held = None
        for _attempt in range(spec.seat_attempts):
            seats = yield from self._request(
                user_id, "seats", "GET /api/v1/concerts/dates/{date}/seats", {**base, "date_id": date_id}
            )
            if not seats.ok:
                return _refusal(seats)
            if not seats.value["available"]:
                return "no-seat"
            seat_no = rng.choice(seats.value["available"])
            held = yield from self._request(
                user_id, "hold", "POST /api/v1/reservations",
                {**base, "date_id": date_id, "seat_no": seat_no}, keyed=True,
            )
            if held.ok:
                break
        if held is None or not held.ok:
            return "token-expired" if held is not None and held.code == "token-not-active" else "no-seat"
        if vanishes == "holding":
            return "vanished"
        reservation_id = held.value["reservation_id"]
        amount = held.value["amount"]
        if rng.random() < spec.abandon_probability:
            return "abandoned-hold"  # the hold is left to expire
        yield from self._think_over_hold(user_id, base)
        balance = yield from self._request(user_id, "balance", "GET /api/v1/points/{userId}", base)
        if balance.ok and balance.value["balance"] < amount:
            top_up = amount - balance.value["balance"]
            charged = yield from self._request(
                user_id, "charge", "POST /api/v1/points/charge",
                {**base, "amount": top_up}, keyed=True, amount=top_up,
            )
            if not charged.ok:
                return "token-expired" if charged.code == "token-not-active" else "charge-failed"
        paid = yield from self._pay(user_id, token, reservation_id, gave_up_at)
        return paid

    def _admitted(
        self, user_id: int, gave_up_at: float, vanishes: bool
    ) -> Generator[simpy.Event, Any, tuple[str | None, str]]:
        """Join the line and poll the token until it is active; returns the active token's id, or
        None and why the visit ended. A token that expired while its user was in line (not polled
        in time) is replaced by a new one at the back of the line."""
        spec, env = self.spec, self.env
        while True:
            issued = yield from self._request(user_id, "token", "POST /api/v1/queue/tokens", {"user_id": user_id})
            if not issued.ok:
                return None, "refused"
            token = issued.value["token_id"]
            self._tokens[user_id] = token
            if vanishes:
                return None, "vanished"
            status = issued.value["status"]
            while status == "WAITING":
                if env.now >= gave_up_at:
                    return None, "gave-up-waiting"
                yield env.timeout(spec.poll_interval)
                polled = yield from self._request(
                    user_id, "token-status", "GET /api/v1/queue/tokens/{tokenId}", {"token_id": token},
                    record=False,
                )
                if polled.ok:
                    status = polled.value["status"]
            if status == "ACTIVE":
                return token, "admitted"
            if env.now >= gave_up_at:
                return None, "gave-up-waiting"

    def _dates(
        self, user_id: int, base: dict[str, Any], gave_up_at: float
    ) -> Generator[simpy.Event, Any, Reply]:
        """The list of open dates. A user admitted before the sale has opened for every date
        refreshes an empty list, at intervals drawn from ``workload.refresh_interval``, until dates
        appear or ``workload.opening_patience`` (or the visit's patience) runs out."""
        env = self.env
        listed = yield from self._request(user_id, "dates", "GET /api/v1/concerts/dates", base)
        if not (listed.ok and not listed.value["dates"] and env.now < self._last_opening):
            return listed
        give_up_at = min(env.now + self.spec.opening_patience, gave_up_at)
        while listed.ok and not listed.value["dates"]:
            wait = self._refresh()
            if env.now + wait > give_up_at:
                break
            yield env.timeout(wait)
            listed = yield from self._request(user_id, "dates", "GET /api/v1/concerts/dates", base)
        return listed

    def _think_over_hold(self, user_id: int, base: dict[str, Any]) -> Generator[simpy.Event, Any, None]:
        """The buyer thinks over the held seat; the checkout page refreshes the point balance every
        ``workload.keepalive_interval`` meanwhile, and each refresh, a request through the
        gateway's token check, keeps the queue token alive."""
        remaining = self._think()
        interval = self.spec.keepalive_interval
        while remaining > interval:
            yield self.env.timeout(interval)
            remaining -= interval
            yield from self._request(user_id, "balance", "GET /api/v1/points/{userId}", base, record=False)
        yield self.env.timeout(remaining)

    def _pay(
        self, user_id: int, token: str, reservation_id: str, gave_up_at: float
    ) -> Generator[simpy.Event, Any, str]:
        op = self._invoke(user_id, "pay", "POST /api/v1/payments", reservation_id=reservation_id)
        body = {"user_id": user_id, "token_id": token, "reservation_id": reservation_id}
        reply, uncertain = yield from self._attempts(
            user_id, op, body, self.spec.client_retries, in_doubt=payment_in_doubt
        )
        outcome = classify(reply)
        # A refused token says nothing about the payment either: the buyer's token was active when it
        # paid, and the payment's own confirmation ends it, so a copy of the request that a mesh or
        # the network delivered after that confirmation is refused while the payment stands.
        ended = not reply.ok and reply.code == "token-not-active"
        if (uncertain or ended) and outcome == "fail" and (reply.code in _GATEWAY_REFUSALS or payment_in_doubt(reply)):
            outcome = "unknown"  # e.g. the token ended because the first attempt did complete
        if outcome == "unknown" or (reply.ok and reply.value["status"] == "pending"):
            outcome = yield from self._await_confirmation(user_id, reservation_id, gave_up_at)
        self._complete(op, outcome, None if reply.ok else reply.code)
        if outcome == "fail" and not reply.ok and reply.code == "token-not-active":
            return "token-expired"
        return _PAY_EXITS[outcome]

    def _await_confirmation(
        self, user_id: int, reservation_id: str, gave_up_at: float
    ) -> Generator[simpy.Event, Any, Outcome]:
        """Learn how a payment ended by polling its reservation: in the choreography flow a
        payment is accepted and confirmed later, and after an ambiguous answer a careful client
        looks before it tells its user anything."""
        while self.env.now < gave_up_at:
            yield self.env.timeout(self.spec.poll_interval)
            polled = yield from self._request(
                user_id, "reservation-status", "GET /api/v1/reservations/{reservationId}",
                {"reservation_id": reservation_id}, record=False,
            )
            if polled.ok:
                status = polled.value["status"]
                if status == "CONFIRMED":
                    return "ok"
                if status in ("EXPIRED", "FAILED"):
                    return "fail"
        return "unknown"

    # --- requests and the history ----------------------------------------------------------------

    def _request(
        self, user_id: int, action: str, route: str, body: dict[str, Any],
        *, retries: int | None = None, record: bool = True, keyed: bool = False, **detail: Any,
    ) -> Generator[simpy.Event, Any, Reply]:
        """One recorded operation (unless ``record`` is false), retried as :meth:`_attempts` says.
        A ``keyed`` operation sends its op id as the idempotency key of every attempt."""
        op = self._invoke(user_id, action, route, **detail) if record else None
        if keyed:
            assert op is not None
            body = {**body, "idempotency_key": op.op_id}
            op.detail["idempotency_key"] = op.op_id
        # A keyed request may take effect after a 503 or 504, through a copy still on its way, as a
        # payment may: its outcome is unknown, not failed.
        reply, uncertain = yield from self._attempts(
            user_id, op, {"route": route, **body}, self.spec.client_retries if retries is None else retries, route,
            in_doubt=payment_in_doubt if keyed else None,
        )
        if op is not None:
            outcome = classify(reply)
            if uncertain and outcome == "fail":
                outcome = "unknown"  # a refused retry says nothing about what the earlier attempt did
            self._complete(op, outcome, None if reply.ok else reply.code)
        return reply

    def _attempts(
        self, user_id: int, op: ClientOp | None, body: dict[str, Any], retries: int, route: str | None = None,
        *, in_doubt: Callable[[Reply], bool] | None = None,
    ) -> Generator[simpy.Event, Any, tuple[Reply, bool]]:
        """Send the request as ``user_id``, retrying unknown and transient outcomes; returns the
        last reply and whether any attempt's outcome was unknown (or, given ``in_doubt``, any
        attempt's reply was one it calls in doubt)."""
        route = route or (op.route if op else body["route"])
        body = {**body, "credential": self._credentials[user_id]}
        trace_id = op.op_id if op else None
        reply: Reply = Failed("not-sent")
        uncertain = False
        for attempt in range(1 + retries):
            if attempt:
                yield self.env.timeout(self.spec.poll_interval)
            if op is not None:
                op.attempts += 1
            reply = yield from self.network.call(
                CLIENT, self.gateway, route, body, timeout=self.spec.client_timeout, trace_id=trace_id,
            )
            if classify(reply) == "unknown" or (in_doubt is not None and in_doubt(reply)):
                uncertain = True
            elif not (isinstance(reply, Failed) and reply.transient):
                break
        return reply, uncertain

    def _invoke(self, user_id: int, action: str, route: str, **detail: Any) -> ClientOp:
        op = ClientOp(self.world.next_id("op"), user_id, action, route, self.env.now, detail=detail)
        self.history.append(op)
        self.world.record("client.invoke", CLIENT, op.op_id, user=user_id, action=action, **detail)
        return op

    def _complete(self, op: ClientOp, outcome: Outcome, error: str | None) -> None:
        op.complete_at = self.env.now
        op.outcome = outcome
        op.error = error
        self.world.record(f"client.{outcome}", CLIENT, op.op_id, action=op.action, error=error)
