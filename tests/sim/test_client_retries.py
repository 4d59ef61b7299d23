"""A client retries what it could not learn the outcome of, and the system answers a retry with the
first attempt's effect (seed 4.2.3: every request that may be repeated carries an idempotency key)."""

from __future__ import annotations

from collections import Counter

from concertsim.checks import check_run
from concertsim.models import points, reservations
from concertsim.scenarios.loader import scenario_from_data
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import SMALL


def scenario(faults=(), *overrides: str):
    data = {**SMALL, "faults": list(faults)}
    return scenario_from_data(
        data, "client-retries",
        ["workload.users=3", "workload.abandon_probability=0", *overrides],
    )


def assert_all_invariants_hold(result: RunResult) -> None:
    assert {v.invariant.id: v.violations[:2] for v in check_run(result) if v.violated} == {}


def test_a_hold_retried_after_its_reply_was_lost_makes_one_hold() -> None:
    lost_replies = {"at": 0, "kind": "drop", "target": "reply",
                    "match": {"message_type": "reservation.hold", "count": 3}}
    result = run_scenario(scenario([lost_replies], "workload.initial_points=50000"))
    held = Counter(r.user_id for r in result.table("reservation", reservations.RESERVATIONS).values())
    assert held == {1: 1, 2: 1, 3: 1}
    confirmed = [r for r in result.table("reservation", reservations.RESERVATIONS).values()
                 if r.status == reservations.ReservationStatus.CONFIRMED]
    assert len(confirmed) == 3
    assert_all_invariants_hold(result)


def test_a_charge_retried_after_its_reply_was_lost_credits_once() -> None:
    lost_replies = {"at": 0, "kind": "drop", "target": "reply",
                    "match": {"message_type": "point.charge", "count": 3}}
    result = run_scenario(scenario([lost_replies]))
    charges = Counter(e.user_id for e in result.table("point", points.LEDGER).values() if e.kind == "charge")
    assert charges == {1: 1, 2: 1, 3: 1}
    assert all(op.outcome == "ok" for op in result.history if op.action == "charge")
    confirmed = [r for r in result.table("reservation", reservations.RESERVATIONS).values()
                 if r.status == reservations.ReservationStatus.CONFIRMED]
    assert len(confirmed) == 3
    assert_all_invariants_hold(result)


def test_users_give_their_queue_tokens_back_when_they_leave() -> None:
    from concertsim.models import queue

    result = run_scenario(scenario((), "workload.users=40", "workload.abandon_probability=0.3",
                                   "workload.abandon_share=0"))
    reasons = Counter(t.expiry_reason for t in result.table("queue", queue.TOKENS).values())
    assert set(reasons) == {"left", "completed"} and reasons["left"] > 0
    assert_all_invariants_hold(result)


def test_a_charge_answered_unavailable_whose_late_copy_credits_is_unknown_not_failed() -> None:
    """Point fails every commit while the buyer tops up; a copy of the request, 40 s late, credits
    the points after Point recovered. The 503 never said the charge could not take effect."""
    from pathlib import Path

    from concertsim.scenarios.loader import load_scenario

    case = load_scenario(Path(__file__).parent / "cases" / "charge-unavailable-then-late-copy.yaml")
    result = run_scenario(case)
    charges = [op for op in result.history if op.action == "charge"]
    assert charges and charges[0].error == "unavailable"
    assert charges[0].outcome == "unknown"
    assert_all_invariants_hold(result)
