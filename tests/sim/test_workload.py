"""The simulated users: what a real ticket opening's users do that the design must cope with.

Buyers whose own requests keep their queue token alive, users admitted before the sale opens who
wait and refresh, users who close the tab without giving their token back, and users who look at
the fast sell-out ranking.
"""

from __future__ import annotations

from collections import Counter

from concertsim.metrics.funnel import funnel, funnel_losses
from concertsim.scenarios.loader import load_builtin, scenario_from_data
from concertsim.scenarios.schema import Scenario
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario


def opening(*overrides: str, think_time: dict[str, object] | None = None, **fields: object) -> Scenario:
    """The built-in ticket opening with ``--set``-style overrides, replaced fields and think time."""
    data = {**load_builtin("ticket-opening").model_dump(mode="json"), **fields}
    if think_time is not None:
        data["workload"] = {**data["workload"], "think_time": think_time}
    return scenario_from_data(data, "opening", list(overrides))


def refusals(result: RunResult, code: str) -> int:
    return sum(1 for op in result.history if op.error == code)


def activations_for_users_gone(result: RunResult) -> tuple[int, int]:
    """(activations, activations of a token whose user had already made their last request)."""
    last_seen: dict[int, float] = {}
    for op in result.history:
        last_seen[op.user_id] = max(last_seen.get(op.user_id, 0.0), op.complete_at or op.invoke_at)
    activated = [r for r in result.trace.of_kind("event.raised") if r.data["type"] == "QueueTokenActivatedEvent"]
    gone = [r for r in activated if r.at > last_seen.get(r.data["payload"]["user_id"], 0.0) + 0.5]
    return len(activated), len(gone)


def test_a_buyer_thinking_past_the_idle_ttl_keeps_the_token_alive_without_the_seat_reserved_event() -> None:
    late_hold_news = opening(
        "workload.users=30", "rules.token_idle_ttl=30", "workload.abandon_share=0",
        think_time={"kind": "constant", "value": 40.0},
        faults=[{"at": 0, "kind": "delay", "target": "delivery", "params": {"seconds": 45.0},
                 "match": {"message_type": "SeatReservedEvent", "group": "queue"}}],
    )
    result = run_scenario(late_hold_news)
    payers = funnel(result)["paid"]
    assert payers >= 15
    assert funnel(result)["confirmed"] == payers
    assert refusals(result, "token-not-active") == 0


def test_users_admitted_before_the_sale_opens_wait_and_refresh_the_dates() -> None:
    early = run_scenario(opening("workload.users=60", "concerts.opens_at=20"))
    dates_listed = Counter(op.user_id for op in early.history if op.action == "dates")
    assert max(dates_listed.values()) > 1
    assert funnel(early)["confirmed"] >= 35
    assert funnel_losses(early)["left-before-opening"] == 0


def test_a_user_whose_patience_runs_out_before_the_opening_leaves_and_the_funnel_says_so() -> None:
    result = run_scenario(small_scenario("concerts.opens_at=50", "workload.opening_patience=10",
                                         "workload.abandon_share=0"))
    losses = funnel_losses(result)
    assert losses["left-before-opening"] > 0
    assert sum(losses.values()) == funnel(result)["arrived"] - funnel(result)["confirmed"]


def test_tokens_of_users_who_left_without_a_word_expire_and_the_line_moves_to_users_present() -> None:
    lost_leave = opening(
        "rules.queue_capacity=20", "workload.patience=60",
        faults=[{"at": 0, "kind": "drop", "target": "request", "match": {"message_type": "queue.leave"}}],
    )
    result = run_scenario(lost_leave)
    activations, for_users_gone = activations_for_users_gone(result)
    assert for_users_gone <= activations * 0.2, (for_users_gone, activations)
    expired = [r.data["payload"] for r in result.trace.of_kind("event.raised")
               if r.data["type"] == "QueueTokenExpiredEvent" and r.data["payload"]["reason"] == "idle"]
    assert expired


def test_users_who_vanish_give_no_token_back_and_their_places_still_free_up() -> None:
    result = run_scenario(small_scenario("workload.abandon_share=1", "rules.queue_capacity=5"))
    assert not [op for op in result.history if op.action == "leave"]
    assert set(funnel_losses(result)) >= {"vanished"} and funnel_losses(result)["vanished"] == 40
    assert funnel(result)["admitted"] > 5
    assert not [op for op in result.history if op.action == "pay"]


def test_vanishing_draws_do_not_shift_the_arrivals() -> None:
    def arrivals(share: str) -> list[float]:
        result = run_scenario(small_scenario(f"workload.abandon_share={share}"))
        return sorted(op.invoke_at for op in result.history if op.action == "token")[:10]

    assert arrivals("0") == arrivals("0.5")


def test_some_users_look_at_the_fast_sell_out_ranking() -> None:
    result = run_scenario(small_scenario("workload.ranking_share=0.5"))
    looked = [op for op in result.history if op.action == "ranking"]
    assert looked and all(op.outcome == "ok" for op in looked)
    assert {op.route for op in looked} == {"GET /api/v1/concerts/ranking"}
