"""Co-located services (``design.topology``, seed 9): the monolith is one process, one database and
one local transaction per request; a split stage runs the split-out service apart, with the
failures the split brings."""

from __future__ import annotations

from typing import Any

from concertsim.api import resolve_scenario
from concertsim.checks import check_run
from concertsim.scenarios.schema import Scenario
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

PAYMENT_CUT_BY_A_CRASH: list[dict[str, Any]] = [
    # Reservation crashes, for longer than a hold lives, while a payment is between its deduction
    # and its confirmation (commits take 0.2 s). Found by scanning crash times: with a transaction
    # per step instead of per request, the monolith orphans a deduction here too.
    {"at": 5.5, "kind": "crash", "target": "reservation", "duration": 40},
]


def _run(stage: str, *overrides: str, **fields: Any) -> RunResult:
    return run_scenario(small_scenario(f"design.topology={stage}", *overrides, **fields), 1)


def _broken(result: RunResult) -> set[str]:
    return {verdict.invariant.id for verdict in check_run(result) if verdict.violated}


def _deductions_never_committed(result: RunResult) -> set[str]:
    """The requests whose in-process point.use ran but never committed."""
    ran = {r.trace_id for r in result.trace.of_kind("call.inline") if r.data["endpoint"] == "point.use"}
    committed = {r.trace_id for r in result.trace.of_kind("tx.commit") if "point.use" in r.data["label"]}
    return ran - committed


def test_services_is_the_default_topology_and_keeps_its_trace() -> None:
    default = run_scenario(small_scenario(), 1)
    assert Scenario.model_validate(small_scenario().model_dump()).design.topology == "services"
    assert _run("services").trace_sha256 == default.trace_sha256


def test_the_monolith_commits_payment_deduction_and_projections_in_one_transaction() -> None:
    result = _run("monolith")
    commits = [r.data["label"] for r in result.trace.of_kind("tx.commit")]
    paid = [label for label in commits if "point.use" in label]
    assert paid and all("reservation.start_payment" in label and "reservation.confirm" in label for label in paid)
    assert not list(result.trace.of_kind("broker.append"))
    handled = list(result.trace.of_kind("consumer.handled"))
    assert handled and all(r.data.get("inline") for r in handled)
    assert not [r for r in result.trace.of_kind("call.send") if r.party not in ("client", "gateway")]
    assert _broken(result) == set()


def test_a_crash_of_the_monolith_discards_a_payment_with_its_deduction() -> None:
    """With compensation off, a crash between deduction and confirmation orphans the deduction as
    soon as Point is its own service; in the monolith the crash discards both."""
    faults = PAYMENT_CUT_BY_A_CRASH
    monolith = _run("monolith", "design.compensation=false", "storage.commit_latency={kind: constant, value: 0.2}",
                    faults=faults)
    assert _deductions_never_committed(monolith), "the crash should cut a payment short after its deduction ran"
    assert "no-orphaned-deduction" not in _broken(monolith)
    split = _run("point_split", "design.compensation=false", "storage.commit_latency={kind: constant, value: 0.2}",
                 faults=faults)
    assert "no-orphaned-deduction" in _broken(split)


def test_a_lost_reply_of_point_orphans_a_deduction_only_once_point_is_split_out() -> None:
    """The worked example's fault (every reply of point.use lost, compensation off) strikes a
    network the monolith does not use."""
    faults = [{"at": 0, "kind": "drop", "target": "reply", "match": {"message_type": "point.use"}}]
    assert "no-orphaned-deduction" not in _broken(_run("monolith", "design.compensation=false", faults=faults))
    assert "no-orphaned-deduction" in _broken(_run("point_split", "design.compensation=false", faults=faults))


def test_a_fault_aimed_at_one_service_strikes_its_whole_process() -> None:
    result = _run("point_split", faults=[{"at": 10, "kind": "crash", "target": "queue", "duration": 3}])
    crashed = sorted(r.party for r in result.trace.of_kind("host.crash"))
    assert crashed == ["concert", "data_platform", "queue", "reservation"]
    assert sorted(r.party for r in result.trace.of_kind("host.restart")) == crashed


def test_events_for_another_process_still_go_through_the_broker() -> None:
    result = _run("point_split", faults=[{"at": 0, "kind": "drop", "target": "reply",
                                          "match": {"message_type": "point.use"}}])
    appended = {r.data["type"] for r in result.trace.of_kind("broker.append") if r.party == "reservation"}
    assert appended == {"ReservationFailedEvent"}  # Point refunds; Concert's own copy is handled inline
    delivered = {(r.data["group"], r.data["type"]) for r in result.trace.of_kind("broker.deliver")}
    assert ("point", "ReservationFailedEvent") in delivered
    assert not {group for group, _ in delivered} - {"point", "reservation"}


def test_a_duplicated_request_whose_first_commit_conflicts_runs_again_in_the_split_monolith() -> None:
    """Both copies of a duplicated payment mark it started; the one whose commit conflicts runs
    again from the start (nothing of it has left the process), as a transaction is re-run,
    instead of answering "unavailable" for a payment its twin confirms (found by explore)."""
    scenario = resolve_scenario("small-opening", ["design.topology=point_split", "workload.users=1", "workload.flash_window=2.3",
                                                  "faults=[{at: 0, kind: duplicate, target: request, duration: 7.5}]"])
    result = run_scenario(scenario, 5)
    conflicts = [r for r in result.trace.of_kind("tx.conflict") if r.data["label"] == "reservation.start_payment"]
    assert conflicts, "the schedule should make the two copies conflict"
    assert _broken(result) == set()


def test_a_saga_started_by_a_request_whose_commit_fails_is_driven_once_one_commits() -> None:
    """In the orchestration flow a payment request starts the saga's driver: in the monolith the
    driver begins once the request's transaction has ended, and a retried payment whose first
    commit failed still gets its saga driven (found by explore; seed 30)."""
    scenario = resolve_scenario("small-opening", [
        "design.topology=monolith", "design.payment_flow=orchestration", "workload.users=1",
        "faults=[{at: 7.7, kind: commit_failure, target: queue, duration: 2.7, params: {rate: 0.5}}]"])
    result = run_scenario(scenario, 30)
    assert [r for r in result.trace.of_kind("tx.failed") if r.data["label"] == "reservation.start_saga"]
    assert _broken(result) == set()


def test_a_saga_driver_started_by_a_request_begins_as_soon_as_the_request_commits() -> None:
    """The driver waits for the request's transaction, not for the recovery job's next round."""
    result = run_scenario(resolve_scenario("small-opening", ["design.topology=monolith",
                                                             "design.payment_flow=orchestration"]), 1)
    started = {r.trace_id: r.at for r in result.trace.of_kind("tx.commit") if r.data["label"] == "reservation.start_saga"}
    deducting = {}
    for r in result.trace.of_kind("call.inline"):
        if r.data["endpoint"] == "point.use" and r.trace_id in started:
            deducting.setdefault(r.trace_id, r.at)
    assert started and set(deducting) == set(started)
    assert max(deducting[t] - started[t] for t in started) < 0.1
