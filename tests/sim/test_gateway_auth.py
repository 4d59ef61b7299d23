"""The gateway authenticates every caller and authorises per route (seed 8.2): a queue token,
a reservation and a point balance serve their own user only."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from concertsim.models import identity
from concertsim.sim.infrastructure.network import Failed, Reply
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.system import build_system
from tests.conftest import small_scenario

ALICE, MALLORY = 1, 2


def replies_to(script: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Reply]:
    """Send ``(label, route, body)`` requests in order through the gateway of a quiet system (no
    workload), each after the previous one answered. A body's ``as`` names the user whose
    credential it carries; ``{label.field}`` strings are filled from earlier answers. Alice and
    Mallory take queue tokens first and wait to be admitted."""
    scenario = small_scenario("workload.users=2")
    world = World(scenario, scenario.seed)
    system = build_system(world)
    gateway, key = system.hosts["gateway"], identity.signing_key_for(world.seed)
    answers: dict[str, Reply] = {}
    steps = [("alice-token", "POST /api/v1/queue/tokens", {"as": ALICE}),
             ("mallory-token", "POST /api/v1/queue/tokens", {"as": MALLORY}),
             ("wait", "", {}), *script]

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            label, field = value[1:-1].split(".")
            return answers[label].value[field]
        return value

    def run() -> Generator[Any, Any, None]:
        for label, route, body in steps:
            if label == "wait":
                yield world.env.timeout(2 * scenario.rules.activation_interval)
                continue
            sent = {name: fill(value) for name, value in body.items() if name != "as"}
            if "as" in body:
                sent["credential"] = identity.issue_credential(key, body["as"])
            answers[label] = yield from system.network.call(
                "client", gateway, route, {"route": route, **sent}, timeout=10.0, trace_id=label)

    world.env.process(run())
    world.env.run(until=120)
    return answers


def code(reply: Reply) -> str:
    return "ok" if reply.ok else reply.code if isinstance(reply, Failed) else type(reply).__name__


ALICE_HOLDS = [
    ("alice-hold", "POST /api/v1/reservations",
     {"as": ALICE, "token_id": "{alice-token.token_id}", "date_id": 1, "seat_no": 1}),
]


def test_a_foreign_queue_token_is_refused_on_every_protected_route() -> None:
    foreign = {"as": MALLORY, "token_id": "{alice-token.token_id}"}
    answers = replies_to([
        ("dates", "GET /api/v1/concerts/dates", foreign),
        ("hold", "POST /api/v1/reservations", {**foreign, "date_id": 1, "seat_no": 2}),
        ("status", "GET /api/v1/queue/tokens/{tokenId}", foreign),
        ("leave", "DELETE /api/v1/queue/tokens/{tokenId}", foreign),
        ("own", "GET /api/v1/concerts/dates", {"as": ALICE, "token_id": "{alice-token.token_id}"}),
    ])
    assert {label: code(answers[label]) for label in ("dates", "hold", "status", "leave", "own")} == {
        "dates": "not-owner", "hold": "not-owner", "status": "not-owner", "leave": "not-owner", "own": "ok",
    }


def test_another_users_reservation_can_be_neither_read_nor_paid() -> None:
    answers = replies_to([
        *ALICE_HOLDS,
        ("read", "GET /api/v1/reservations/{reservationId}",
         {"as": MALLORY, "reservation_id": "{alice-hold.reservation_id}"}),
        ("pay", "POST /api/v1/payments",
         {"as": MALLORY, "token_id": "{mallory-token.token_id}", "reservation_id": "{alice-hold.reservation_id}"}),
        ("own", "GET /api/v1/reservations/{reservationId}",
         {"as": ALICE, "reservation_id": "{alice-hold.reservation_id}"}),
    ])
    assert [code(answers[label]) for label in ("alice-hold", "read", "pay", "own")] == [
        "ok", "not-owner", "not-owner", "ok"]


def test_points_are_read_and_charged_by_their_own_user_only() -> None:
    own = {"as": ALICE, "token_id": "{alice-token.token_id}"}
    answers = replies_to([
        ("peek", "GET /api/v1/points/{userId}", {"as": MALLORY, "token_id": "{mallory-token.token_id}", "user_id": ALICE}),
        ("gift", "POST /api/v1/points/charge",
         {"as": MALLORY, "token_id": "{mallory-token.token_id}", "user_id": ALICE, "amount": 5}),
        ("own", "GET /api/v1/points/{userId}", {**own, "user_id": ALICE}),
    ])
    assert [code(answers[label]) for label in ("peek", "gift", "own")] == ["forbidden", "forbidden", "ok"]


@pytest.mark.parametrize("credential", [None, "1", "1.beef", "x.y.z"])
def test_a_request_without_a_verified_credential_is_unauthenticated(credential: str | None) -> None:
    body: dict[str, Any] = {"user_id": ALICE} if credential is None else {"user_id": ALICE, "credential": credential}
    answers = replies_to([("token", "POST /api/v1/queue/tokens", body),
                          ("ranking", "GET /api/v1/concerts/ranking", {})])
    assert (code(answers["token"]), code(answers["ranking"])) == ("unauthenticated", "ok")


def test_a_credential_signed_for_one_user_cannot_be_rewritten_to_name_another() -> None:
    key = identity.signing_key_for(0)
    _, mallorys_tag = identity.issue_credential(key, MALLORY).split(".")
    with pytest.raises(Exception, match="does not verify"):
        identity.authenticate(key, f"{ALICE}.{mallorys_tag}")
    assert identity.authenticate(key, identity.issue_credential(key, ALICE)) == ALICE
