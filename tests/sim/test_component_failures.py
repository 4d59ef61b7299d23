"""Component behaviour under the failures the design's safeguards exist for (seed 4.2.3, 6.2).

Each test first runs a fault-free baseline to find the moment to strike (a run is deterministic, so
the faulty run is identical up to that moment), then strikes exactly there.
"""

from __future__ import annotations

from collections import Counter

from concertsim.checks import check_run
from concertsim.models import points
from concertsim.scenarios.loader import scenario_from_data
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import SMALL

CONSTANT = {"kind": "constant", "value": 0.002}


def scenario(faults=(), *overrides: str):
    data = {
        **SMALL,
        "network": {"latency": CONSTANT, "call_retries": 0},
        "storage": {"commit_latency": CONSTANT},
        "faults": list(faults),
    }
    return scenario_from_data(data, "component", overrides)


def first(result: RunResult, kind: str, **match):
    return next(
        r for r in result.trace.records
        if r.kind == kind and all(r.data.get(k) == v or r.party == v for k, v in match.items())
    )


def assert_all_invariants_hold(result: RunResult) -> None:
    assert {v.invariant.id: v.violations[:2] for v in check_run(result) if v.violated} == {}


def test_consumer_crash_before_offset_commit_redelivers_and_inbox_skips() -> None:
    baseline = run_scenario(scenario())
    handled = first(baseline, "consumer.handled", group="data_platform")
    crash = {"at": handled.at + 0.001, "kind": "crash", "target": "consumer:data_platform", "duration": 1}
    result = run_scenario(scenario([crash]))
    event_id = handled.data["event_id"]
    deliveries = [r for r in result.trace.of_kind("broker.deliver")
                  if r.data["event_id"] == event_id and r.data["group"] == "data_platform"]
    skipped = [r for r in result.trace.of_kind("consumer.duplicate_skipped")
               if r.data["event_id"] == event_id and r.data["group"] == "data_platform"]
    assert len(deliveries) == 2
    assert len(skipped) == 1
    assert_all_invariants_hold(result)


def test_relay_crash_between_publish_and_mark_republishes() -> None:
    baseline = run_scenario(scenario())
    appended = first(baseline, "broker.append", type="SeatReservedEvent")
    crash = {"at": appended.at + 0.0005, "kind": "crash", "target": "relay:reservation", "duration": 1}
    result = run_scenario(scenario([crash]))
    appends = Counter(r.data["event_id"] for r in result.trace.of_kind("broker.append"))
    assert appends[appended.data["event_id"]] == 2
    assert any(r.kind == "consumer.duplicate_skipped" and r.data["event_id"] == appended.data["event_id"]
               for r in result.trace.records)
    assert_all_invariants_hold(result)


def test_lost_reply_times_out_the_caller_while_the_callee_write_stands() -> None:
    drop = {"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.use", "count": 1}}
    result = run_scenario(scenario([drop]))
    lost = first(result, "call.reply_lost")
    sent = next(r for r in result.trace.of_kind("call.send") if r.data["call"] == lost.data["call"])
    returned = next(r for r in result.trace.of_kind("call.return") if r.data["call"] == lost.data["call"])
    assert sent.data["endpoint"] == "point.use"
    assert returned.data["outcome"] == "timeout"
    deductions = [u for u in result.table("point", points.USES).values()]
    refunded = [u for u in deductions if u.refunded_at is not None]
    assert len(refunded) == 1, "the deduction whose reply was lost stood, and was compensated"
    assert_all_invariants_hold(result)


def test_crashing_the_relay_of_a_service_without_an_outbox_strikes_nothing() -> None:
    crash = {"at": 1, "kind": "crash", "target": "relay:point", "duration": 2}
    result = run_scenario(scenario([crash], "design.publish=dual_write"))
    restart = next(r for r in result.trace.of_kind("daemon.restart") if r.party == "relay:point")
    assert restart.data["daemons"] == []


def test_lost_offset_commits_redeliver_nothing_until_the_consumer_restarts() -> None:
    lost = {"at": 0, "kind": "drop", "target": "offset_commit", "duration": 20, "match": {"group": "concert"}}
    restart = {"at": 15, "kind": "crash", "target": "consumer:concert", "duration": 1}

    def redelivered(result: RunResult) -> int:
        deliveries = Counter(r.data["event_id"] for r in result.trace.of_kind("broker.deliver") if r.data["group"] == "concert")
        return sum(n - 1 for n in deliveries.values())

    assert redelivered(run_scenario(scenario([lost]))) == 0
    after_restart = run_scenario(scenario([lost, restart]))
    assert redelivered(after_restart) > 0
    assert_all_invariants_hold(after_restart)


def test_events_parked_behind_a_key_during_the_redrive_are_redriven_too() -> None:
    from pathlib import Path

    from concertsim.scenarios.loader import load_scenario

    result = run_scenario(load_scenario(Path(__file__).parent / "cases" / "parked-during-redrive.yaml"))
    heal = result.phases.heal_at
    assert any(r.at > heal for r in result.trace.of_kind("broker.dead_letter")), "no event was parked during the redrive"
    assert result.dead_letters == []
    assert_all_invariants_hold(result)
