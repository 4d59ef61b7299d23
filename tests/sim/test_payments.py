"""How a payment ends when Point answers, refuses, or is unavailable (seed 3.1, 4.2.1, 4.2.2)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from concertsim.checks import check_run
from concertsim.models import points, reservations
from concertsim.models.reservations import PaymentStatus, ReservationStatus
from concertsim.scenarios.loader import load_scenario, scenario_from_data
from concertsim.scenarios.schema import Scenario
from concertsim.sim.infrastructure.world import World
from concertsim.sim.run.faults import FaultInjector
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from concertsim.sim.run.system import build_system
from concertsim.sim.run.workload import Workload
from tests.conftest import SMALL


def scenario(faults=(), *overrides: str) -> Scenario:
    data = {**SMALL, "faults": list(faults)}
    return scenario_from_data(data, "payments", ["workload.abandon_probability=0", *overrides])


def raised(result: RunResult, event_type: str) -> list[dict[str, Any]]:
    return [r.data["payload"] for r in result.trace.of_kind("event.raised") if r.data["type"] == event_type]


def assert_all_invariants_hold(result: RunResult) -> None:
    assert {v.invariant.id: v.violations[:2] for v in check_run(result) if v.violated} == {}


def statuses_seen(scenario: Scenario, until: float) -> set[ReservationStatus]:
    """Every reservation status Reservation's database showed, sampled every 50 ms."""
    world = World(scenario, scenario.seed)
    system = build_system(world)
    FaultInjector(world, system).schedule(scenario.faults)
    Workload(world, system.network, system.hosts["gateway"]).start()
    seen: set[ReservationStatus] = set()

    def watch() -> Generator[Any, Any, None]:
        while True:
            for reservation in system.hosts["reservation"].db.tables.get(reservations.RESERVATIONS, {}).values():
                seen.add(reservation.status)
            yield world.env.timeout(0.05)

    world.env.process(watch())
    world.env.run(until=until)
    return seen


def test_a_choreography_payment_is_payment_pending_until_point_used_arrives() -> None:
    slow_events = {"at": 0, "kind": "delay", "target": "delivery",
                   "match": {"message_type": "PointUsedEvent"}, "params": {"seconds": 1.0}}
    seen = statuses_seen(scenario([slow_events], "design.payment_flow=choreography",
                                  "workload.initial_points=50000"), until=40)
    assert ReservationStatus.PAYMENT_PENDING in seen and ReservationStatus.CONFIRMED in seen


def test_a_sync_payment_is_never_payment_pending() -> None:
    seen = statuses_seen(scenario((), "workload.initial_points=50000"), until=40)
    assert ReservationStatus.PAYMENT_PENDING not in seen


def first_payment_at(base: Scenario) -> float:
    return next(op.invoke_at for op in run_scenario(base).history if op.action == "pay")


def test_point_unavailable_for_a_moment_is_retried_not_failed_in_the_sync_flow() -> None:
    base = scenario((), "workload.users=1", "workload.initial_points=50000")
    at = first_payment_at(base)
    unavailable = {"at": at, "kind": "commit_failure", "target": "point", "duration": 1.0,
                   "params": {"rate": 1.0}}
    result = run_scenario(scenario([unavailable], "workload.users=1", "workload.initial_points=50000"))
    assert [op.outcome for op in result.history if op.action == "pay"] == ["ok"]
    assert raised(result, "ReservationFailedEvent") == []
    assert any(r.kind == "tx.failed" and r.party == "point" for r in result.trace.records)
    assert_all_invariants_hold(result)


def test_a_payment_point_refused_is_declined_and_its_expiry_leaves_a_tombstone() -> None:
    # Without an answer to its balance query the buyer pays without topping up: Point refuses.
    blind = {"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.balance"}}
    result = run_scenario(scenario([blind], "workload.users=1", "workload.initial_points=0"))
    assert [(op.outcome, op.error) for op in result.history if op.action == "pay"] == [
        ("fail", "insufficient-points")
    ]
    assert [r.status for r in result.table("reservation", reservations.RESERVATIONS).values()] == [
        ReservationStatus.EXPIRED
    ]
    assert [e["reason"] for e in raised(result, "ReservationFailedEvent")] == ["hold-expired-after-declined-payment"]
    assert list(result.table("point", points.TOMBSTONES)) == ["res-1"]
    assert result.table("point", points.USES) == {}
    assert_all_invariants_hold(result)


def test_a_buyer_who_thinks_longer_than_the_token_idle_ttl_still_pays_an_unexpired_hold() -> None:
    thoughtful = scenario((), "rules.hold_ttl=120", "rules.token_idle_ttl=30", "workload.users=6")
    thoughtful = scenario_from_data(
        {**thoughtful.model_dump(mode="json"), "workload": {
            **thoughtful.workload.model_dump(mode="json"), "think_time": {"kind": "constant", "value": 40.0}}},
        "thoughtful", [],
    )
    result = run_scenario(thoughtful)
    pays = [op for op in result.history if op.action == "pay"]
    assert len(pays) == 6 and all(op.outcome == "ok" for op in pays), [op.error for op in pays]
    from concertsim.checks.clients.liveness import honest_payments

    assert len(honest_payments(result)) == 6
    assert_all_invariants_hold(result)


def test_point_refuses_a_user_it_has_no_account_for() -> None:
    from concertsim.sim.infrastructure.network import Failed

    small = scenario((), "workload.users=2")
    world = World(small, small.seed)
    system = build_system(world)
    point = system.hosts["point"]
    replies = {}

    def ask() -> Generator[Any, Any, None]:
        for endpoint, body in (("point.balance", {"user_id": 99}),
                               ("point.charge", {"user_id": 99, "amount": 10, "idempotency_key": "op-x"}),
                               ("point.balance", {"user_id": 2})):
            replies[(endpoint, body["user_id"])] = yield from system.network.call(
                "gateway", point, endpoint, body, timeout=5.0, trace_id=None)

    world.env.process(ask())
    world.env.run(until=10)
    assert [(k, r.code if isinstance(r, Failed) else r.value) for k, r in replies.items()] == [
        (("point.balance", 99), "unknown-account"),
        (("point.charge", 99), "unknown-account"),
        (("point.balance", 2), {"balance": 0}),
    ]
    assert 99 not in system.hosts["point"].db.tables.get(points.ACCOUNTS, {})


def test_a_buyer_can_learn_that_a_failed_payment_was_refunded() -> None:
    from pathlib import Path

    from concertsim.scenarios.loader import load_scenario
    from concertsim.sim.services import reservation as reservation_service

    case = load_scenario(Path(__file__).parents[1] / "properties" / "cases" / "reply-lost-after-deduction.yaml")
    result = run_scenario(case)
    refunded = {u.reservation_id for u in result.table("point", points.USES).values() if u.refunded_at is not None}
    assert refunded
    payments = result.table("reservation", reservations.PAYMENTS)
    assert {payments[reservations.payment_id_for(r)].status for r in refunded} == {PaymentStatus.REFUNDED}

    world = World(case, case.seed)
    system = build_system(world)
    host = system.hosts["reservation"]
    reservation_id = sorted(refunded)[0]
    host.db.tables.update({k: dict(v) for k, v in result.state["reservation"].items()})
    owner = result.table("reservation", reservations.RESERVATIONS)[reservation_id].user_id
    asked = reservation_service.status(host, {"reservation_id": reservation_id, "user_id": owner}, None)
    try:
        next(asked)
    except StopIteration as answered:
        reply = answered.value
    assert reply.value == {"status": str(result.table("reservation", reservations.RESERVATIONS)[reservation_id].status),
                           "payment": "REFUNDED"}


def test_each_date_goes_on_sale_at_its_own_opening_time() -> None:
    staggered = scenario((), "workload.users=40", "workload.initial_points=50000")
    staggered = scenario_from_data(
        {**staggered.model_dump(mode="json"), "concerts": {
            **staggered.concerts.model_dump(mode="json"), "opens_at_by_date": {2: 20.0}}},
        "staggered", [],
    )
    result = run_scenario(staggered)
    booked = list(result.table("reservation", reservations.RESERVATIONS).values())
    assert {r.date_id for r in booked} == {1, 2}
    assert min(r.held_at for r in booked if r.date_id == 2) >= 20.0
    assert min(r.held_at for r in booked if r.date_id == 1) < 20.0
    assert_all_invariants_hold(result)


CASES = Path(__file__).parent / "cases"


def pay_replies(result: RunResult) -> list[str]:
    """What the buyers' payment requests were answered, in order."""
    return [r.data["outcome"] for r in result.trace.of_kind("call.return")
            if r.party == "client" and r.data["endpoint"] == "POST /api/v1/payments"]


@pytest.mark.parametrize("flow", ["sync", "choreography", "orchestration"])
def test_a_503_from_the_copy_whose_commit_failed_leaves_the_payment_unknown_not_failed(flow: str) -> None:
    case = load_scenario(CASES / "pay-unavailable-after-duplicated-request.yaml",
                         [f"design.payment_flow={flow}", "workload.users=10", "workload.initial_points=50000"])
    result = run_scenario(case)
    assert "unavailable" in pay_replies(result)
    assert_all_invariants_hold(result)


@pytest.mark.parametrize("flow", ["sync", "choreography", "orchestration"])
def test_a_token_refusal_of_a_payment_copy_leaves_the_payment_unknown_not_failed(flow: str) -> None:
    """The first answer the buyer gets is the gateway's refusal of a copy of its payment, sent after
    the payment's own confirmation ended the buyer's queue token."""
    case = load_scenario(CASES / "pay-refused-token-ended-by-its-own-copy.yaml", [f"design.payment_flow={flow}"])
    result = run_scenario(case)
    if flow == "sync":
        assert "token-not-active" in pay_replies(result)
    assert_all_invariants_hold(result)


@pytest.mark.parametrize("flow", ["sync", "choreography", "orchestration"])
@pytest.mark.parametrize("topology", ["monolith", "services"])
def test_a_payment_refused_by_a_fast_clock_expires_its_hold_so_a_late_copy_cannot_pay_it(flow: str, topology: str) -> None:
    """Reservation's clock runs 30 s fast for under a second: the payment is refused hold-expired,
    and the copy of the same request, served once the clock reads true, finds the hold expired
    too, where it used to find time left and confirm a payment the buyer was told failed."""
    case = load_scenario(CASES / "pay-refused-expired-under-a-fast-clock.yaml",
                         [f"design.payment_flow={flow}", f"design.topology={topology}"])
    skewed = [f.model_copy(update={"target": "reservation"}) if f.kind == "clock_skew" else f for f in case.faults]
    result = run_scenario(case.model_copy(update={"faults": tuple(skewed)}))
    assert "hold-expired" in pay_replies(result)
    statuses = {r.reservation_id: r.status for r in result.state["reservation"][reservations.RESERVATIONS].values()}
    assert statuses == {"res-1": ReservationStatus.EXPIRED}
    assert_all_invariants_hold(result)


def test_expiring_one_hold_is_what_the_sweeper_does_to_it_and_nothing_once_it_is_closed() -> None:
    from concertsim.models.store import CountingIds, MemoryStore

    swept, one = MemoryStore(), MemoryStore()
    for store in (swept, one):
        reservations.add_seats(store, date_id=1, seats=1, price=500)
        held, _ = reservations.hold_seat(store, CountingIds(), user_id=7, date_id=1, seat_no=1, ttl=30.0, now=0.0)
        reservations.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=False)
    by_sweep = reservations.expire_due_holds(swept, now=31.0)
    by_refusal = reservations.expire_hold(one, reservation_id=held.reservation_id, now=31.0)
    assert by_refusal == by_sweep and [type(e).__name__ for e in by_refusal] == ["ReservationExpired", "ReservationFailed"]
    assert one.tables == swept.tables
    assert reservations.expire_hold(one, reservation_id=held.reservation_id, now=32.0) == []


def test_the_client_reads_a_transient_payment_failure_as_in_doubt_and_a_refusal_as_failed() -> None:
    from concertsim.sim.infrastructure.network import TIMEOUT, Failed
    from concertsim.sim.run.workload import payment_in_doubt

    assert payment_in_doubt(Failed("unavailable", transient=True))
    assert payment_in_doubt(Failed("gateway-timeout", transient=True))
    assert payment_in_doubt(TIMEOUT)
    assert not payment_in_doubt(Failed("rate-limited", transient=True))  # 429: not forwarded
    assert not payment_in_doubt(Failed("insufficient-points"))
    assert not payment_in_doubt(Failed("hold-expired"))


def test_failing_a_payment_another_copy_confirmed_answers_confirmed() -> None:
    from concertsim.models.store import CountingIds, MemoryStore
    from concertsim.sim.services.payments import fail

    store, ids = MemoryStore(), CountingIds()
    reservations.add_seats(store, date_id=1, seats=1, price=500)
    held, _ = reservations.hold_seat(store, ids, user_id=7, date_id=1, seat_no=1, ttl=30.0, now=0.0)
    reservations.start_payment(store, reservation_id=held.reservation_id, user_id=7, now=1.0, pending=False)
    reservations.confirm(store, reservation_id=held.reservation_id, now=2.0)
    assert fail(held.reservation_id, "point-use-unknown")(store, 3.0) == ("confirmed", [])


@pytest.mark.parametrize("flow", ["sync", "orchestration"])
def test_a_late_copy_of_a_declined_payments_deduction_is_refunded_or_refused(flow: str) -> None:
    result = run_scenario(load_scenario(CASES / "declined-payment-late-duplicate-use.yaml",
                                        [f"design.payment_flow={flow}"]))
    declined = [r for r in result.trace.of_kind("tx.commit") if r.data["label"] in
                ("reservation.decline_payment", "reservation.saga_step")]
    late_uses = [r for r in result.trace.of_kind("call.serve") if r.data["endpoint"] == "point.use"
                 and r.data["outcome"] in ("ok", "deduction-cancelled")]
    assert declined and late_uses  # the payment was declined, and a copy of its "use" came later
    assert_all_invariants_hold(result)
    assert {e["reason"] for e in raised(result, "ReservationFailedEvent")} == {"hold-expired-after-declined-payment"}
