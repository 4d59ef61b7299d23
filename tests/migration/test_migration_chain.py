"""The seed's whole migration in one run (``migration:`` with ``then:``): Point, then Queue, then
Concert, then Reservation, each service's plan starting once the one before it has cut over, each
move's invariants judged, a chain stopped where a plan is rolled back, and the calls of every moved
service routed to its new host from every host, the ones split out later included."""

from __future__ import annotations

from typing import Any

import pytest

from concertsim.checks import check_run
from concertsim.exploration import explore
from concertsim.metrics import compute_metrics
from concertsim.metrics.migration_timeline import chained_timelines
from concertsim.migration_plan_run import chain_checks, plan_steps, step_line
from concertsim.scenarios.loader import ScenarioError, load_builtin, scenario_from_data
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from concertsim.strategies import small_base
from tests.conftest import small_scenario

MOVE_CHECKS = ("migration-no-lost-write", "migration-one-owner", "migration-queue-tokens-kept",
               "migration-concert-view-kept", "migration-reservation-kept")


def chain(*plans: dict[str, Any]) -> dict[str, Any]:
    """``plans`` linked by ``then``, the first outermost."""
    linked: dict[str, Any] | None = None
    for plan in reversed(plans):
        linked = {**plan, **({"then": linked} if linked is not None else {})}
    assert linked is not None
    return linked


def four_moves(**point: Any) -> dict[str, Any]:
    return chain(
        {"service": "point", **point, "steps": [{"at": 0, "action": "copy"}, {"at": 1, "action": "verify"},
                                                {"at": 1, "action": "shift", "duration": 3},
                                                {"at": 5, "action": "cutover"}]},
        {"service": "queue", "steps": [{"at": 5, "action": "copy"}, {"at": 6, "action": "verify"},
                                       {"at": 7, "action": "cutover"}]},
        {"service": "concert", "steps": [{"at": 8, "action": "copy"}, {"at": 9, "action": "cutover"}]},
        {"service": "reservation", "steps": [{"at": 10, "action": "copy"}, {"at": 11, "action": "verify"},
                                             {"at": 12, "action": "cutover"}]},
    )


def moved(migration: dict[str, Any], faults: list[dict[str, Any]] | None = None) -> RunResult:
    return run_scenario(small_scenario("design.topology=monolith", migration=migration, faults=faults or []))


def verdicts(result: RunResult) -> dict[str, str]:
    return {v.invariant.id: v.status for v in check_run(result)}


def test_the_built_in_chain_moves_every_service_out_while_the_crowd_buys_and_every_invariant_holds() -> None:
    result = run_scenario(load_builtin("monolith-split"))
    judged = verdicts(result)
    assert [name for name, status in judged.items() if status == "violated"] == []
    assert all(judged[name] == "holds" for name in MOVE_CHECKS), judged
    cutovers = [(step.service, step.outcome) for step in plan_steps(result) if step.action == "cutover"]
    assert cutovers == [("point", "done"), ("queue", "done"), ("concert", "done"), ("reservation", "done")]
    owners = {"queue": result.state["queue_migration"]["owner"][None],
              "concert": result.state["concert_migration"]["owner"][None],
              "reservation": result.state["reservation_migration"]["owner"][None]}
    assert owners == {"queue": "queue_new", "concert": "concert_new", "reservation": "reservation_new"}
    assert set(result.state["point_migration"]["owners"].values()) == {"point_new"}


def test_every_moved_service_is_called_on_its_new_host_from_every_host_split_out_later() -> None:
    """Reservation, split out last, calls Point on the host Point moved to first; after its
    cutover no router sends a call to a moved service's old host."""
    result = moved(four_moves())
    sent = [(r.at, r.party, r.data["to"]) for r in result.trace.of_kind("call.send")
            if r.data.get("endpoint", "").split(".")[0] in ("point", "queue", "concert")
            and not r.data.get("endpoint", "").endswith(".replicate")]
    assert any(party == "reservation_new" and to == "point_new" for _, party, to in sent)
    late = [call for call in sent if call[0] > 20 and call[2] in ("point", "queue", "concert")]
    assert late == []


def test_a_plan_rolled_back_stops_the_chain_there() -> None:
    """Point's copy loses its batches for good (no acknowledgements), its verify after the shift
    finds the stores apart and rolls it back: Queue, Concert and Reservation never start."""
    lost = [{"at": 0, "kind": "drop", "target": "request", "duration": 30,
             "match": {"message_type": "point.replicate"}}]
    plans = four_moves(acks=False, verify_timeout=0.5)
    plans["steps"] = [{"at": 0, "action": "copy"}, {"at": 1, "action": "shift", "duration": 3},
                      {"at": 4.5, "action": "verify"}, {"at": 5, "action": "cutover"}]
    result = moved(plans, faults=lost)
    outcomes = {(step.service, step.action): step.outcome for step in plan_steps(result)}
    assert outcomes[("point", "rollback")] == "done"
    later = [step for step in plan_steps(result) if step.service != "point"]
    assert later and {step.outcome for step in later} == {"skipped"}
    assert {step.details["reason"] for step in later if step.service == "queue"} == {"point's plan did not cut over"}
    judged = verdicts(result)
    assert judged["migration-queue-tokens-kept"] == "not_applicable"
    assert judged["migration-reservation-kept"] == "not_applicable"


def test_the_timeline_has_a_move_for_each_plan_with_only_its_own_steps_and_stores() -> None:
    result = moved(four_moves())
    timelines = chained_timelines(compute_metrics(result)["migration"])
    assert [t["service"] for t in timelines] == ["point", "queue", "concert", "reservation"]
    assert [t["stores"] for t in timelines][1] == ["queue", "queue_new"]
    assert {step["action"] for step in timelines[2]["steps"]} == {"copy", "cutover"}
    assert timelines[3]["moved"][-1][1] == result.scenario.workload.users


def test_migrate_prints_each_step_with_its_service_and_judges_every_move() -> None:
    result = moved(four_moves())
    lines = [step_line(step, chained=True) for step in plan_steps(result)]
    assert lines[-1].split()[:4] == ["12.0", "s", "reservation", "cutover"]
    assert set(MOVE_CHECKS) <= set(chain_checks(result.scenario.migration))


@pytest.mark.parametrize(("migration", "reason"), [
    (chain({"service": "point", "steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "cutover"}]},
           {"service": "concert", "steps": [{"at": 5, "action": "copy"}, {"at": 6, "action": "cutover"}]}),
     "then.service: after point the seed moves queue, not concert"),
    (chain({"service": "point", "steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "cutover"}]},
           {"service": "queue", "steps": [{"at": 4, "action": "copy"}, {"at": 6, "action": "cutover"}]}),
     "queue's copy at 4 s is before point's cutover at 5 s"),
    (chain({"service": "point", "steps": [{"at": 0, "action": "copy"}, {"at": 5, "action": "cutover"},
                                          {"at": 6, "action": "rollback"}]},
           {"service": "queue", "steps": [{"at": 7, "action": "copy"}, {"at": 8, "action": "cutover"}]}),
     "a plan followed by another ends with its cutover"),
    (chain({"service": "point"}, {"service": "queue"}),
     "a plan followed by another .then:. lists its steps"),
])
def test_a_chain_runs_in_the_seeds_order_one_plan_after_the_other(migration: dict[str, Any], reason: str) -> None:
    with pytest.raises(ScenarioError, match=reason):
        small_scenario("design.topology=monolith", migration=migration)


def test_the_search_finds_a_chained_moves_safeguard_switched_off_and_its_counterexample_replays() -> None:
    """Queue's fence off inside the chain (``migration.then.fence=false``): the search finds a token
    the old store issued after the cutover, shrinks it to a 1-minimal example that replays exactly,
    and the same example keeps the promise with the fence back on."""
    data = small_base().model_dump(mode="json")
    data["design"]["topology"] = "monolith"
    data["migration"] = four_moves()
    unfenced = scenario_from_data(data, "chain", ["migration.then.fence=false"])
    found = explore(unfenced, examples=200, seed=0, kinds=("drop",), invariants=("migration-queue-tokens-kept",))
    assert found.counterexample is not None and found.outcome.violated == ["migration-queue-tokens-kept"]
    assert found.minimization is not None and found.minimization.one_minimal
    assert run_scenario(found.counterexample).trace_sha256 == found.counterexample.expect.trace_sha256
    plan = found.counterexample.migration
    assert plan is not None and plan.then is not None
    fenced = found.counterexample.model_copy(update={
        "migration": plan.model_copy(update={"then": plan.then.model_copy(update={"fence": True})}), "expect": None})
    assert verdicts(run_scenario(fenced))["migration-queue-tokens-kept"] == "holds"
