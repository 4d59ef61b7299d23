"""Each coverage probe of the runtime's rare states is reached by a schedule built to reach it, and
stays at zero in a fault-free run."""

from __future__ import annotations

from pathlib import Path

import pytest

from concertsim.checks.probes import PROBES, probe_counts
from concertsim.scenarios.loader import load_scenario
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

CASES = Path(__file__).resolve().parents[1] / "properties" / "cases"


def first_handled(result: RunResult, group: str) -> float:
    return next(r.at for r in result.trace.of_kind("consumer.handled") if r.data["group"] == group)


def test_a_fault_free_run_reaches_none_of_the_rare_states() -> None:
    counts = probe_counts(run_scenario(small_scenario()))
    # Reselling a released seat is the workload's doing, not a fault's.
    assert {name: n for name, n in counts.items() if n and name != "released-seat-resold"} == {}


def test_relay_crash_between_publish_and_mark() -> None:
    result = run_scenario(load_scenario(CASES / "relay-crash-between-publish-and-mark.yaml"))
    assert probe_counts(result)["relay-crash-between-publish-and-mark"] > 0


def test_consumer_crash_between_handling_and_commit() -> None:
    handled_at = first_handled(run_scenario(small_scenario()), "data_platform")
    crash = f"faults=[{{at: {handled_at + 0.001}, kind: crash, target: 'consumer:data_platform', duration: 1}}]"
    counts = probe_counts(run_scenario(small_scenario(crash)))
    assert counts["consumer-crash-between-handling-and-commit"] > 0
    assert counts["redelivery-after-lost-offset-commit"] == 0


def test_redelivery_after_lost_offset_commit() -> None:
    # A consumer keeps its position in memory: lost commits cost nothing until it restarts and
    # resumes from the last offset that was committed.
    lost = "{at: 0, kind: drop, target: offset_commit, duration: 20, match: {group: concert}}"
    restart = "{at: 15, kind: crash, target: 'consumer:concert', duration: 1}"
    assert probe_counts(run_scenario(small_scenario(f"faults=[{lost}]")))["redelivery-after-lost-offset-commit"] == 0
    counts = probe_counts(run_scenario(small_scenario(f"faults=[{lost}, {restart}]")))
    assert counts["redelivery-after-lost-offset-commit"] > 0


def test_event_overtaken_across_partitions() -> None:
    # A seat's events share a partition unless partitioning is random: then a held-back
    # SeatReservedEvent is overtaken by the same reservation's later events.
    late = ("faults=[{at: 0, kind: delay, target: delivery, "
            "match: {group: concert, message_type: SeatReservedEvent}, params: {seconds: 5}}]")
    counts = probe_counts(run_scenario(small_scenario(late, "design.partitioning=random")))
    assert counts["event-overtaken-across-partitions"] > 0
    in_order = probe_counts(run_scenario(small_scenario(late)))
    assert in_order["event-overtaken-across-partitions"] == 0


@pytest.mark.parametrize("name", list(PROBES))
def test_every_probe_says_what_it_counts(name: str) -> None:
    assert (PROBES[name].__doc__ or "").strip(), f"probe {name} has no docstring"


def test_the_default_opening_sells_seats_that_expired_holds_released() -> None:
    from concertsim.scenarios.loader import load_builtin

    result = run_scenario(load_builtin("ticket-opening"))
    assert probe_counts(result)["released-seat-resold"] > 0
    late = [op for op in result.history if op.action == "token" and op.invoke_at > result.scenario.workload.flash_window]
    assert late


def test_a_payment_is_judged_for_liveness_beside_a_fault_that_cannot_touch_it() -> None:
    beside = "faults=[{at: 0, kind: crash, target: data_platform, duration: 30}]"
    assert probe_counts(run_scenario(small_scenario(beside)))["liveness-judged-beside-a-fault"] > 0
    on_point = "faults=[{at: 0, kind: crash, target: point, duration: 30}]"
    assert probe_counts(run_scenario(small_scenario(on_point)))["liveness-judged-beside-a-fault"] == 0


def test_a_deduction_whose_reply_came_after_the_caller_gave_up_is_the_ambiguous_case() -> None:
    late = ("faults=[{at: 0, kind: delay, target: reply, duration: 15, params: {seconds: 30}, "
            "match: {message_type: point.use}}]")
    result = run_scenario(small_scenario(late, "workload.users=4"))
    late_after_deduction = {
        r.data["call"] for r in result.trace.of_kind("call.late_reply")
    } & {r.data["call"] for r in result.trace.of_kind("call.serve")
         if r.data["endpoint"] == "point.use" and r.data["outcome"] == "ok"}
    assert late_after_deduction and not list(result.trace.of_kind("call.reply_lost"))
    assert probe_counts(result)["reply-lost-after-deduction"] == len(late_after_deduction)
