"""Reservation's migration in motion (``migration.service: reservation``, at the ``concert_split``
stage): Reservation's seats, reservations, holds, payments and the inbox rows of the events it
handled copied to its new store and cut over at once while users hold and pay; no change lost, one
store writing at a time (``migration-reservation-kept``), its outbox published by one relay, its
sweeper and handlers on the owning store only, and the safeguards that keep it so."""

from __future__ import annotations

from typing import Any

import pytest

from concertsim.checks import check_run
from concertsim.metrics import compute_metrics
from concertsim.models import reservations
from concertsim.scenarios.loader import ScenarioError, load_builtin
from concertsim.sim.run.result import RunResult
from concertsim.sim.run.runner import run_scenario
from tests.conftest import small_scenario

CHECK = "migration-reservation-kept"
CUTOVER = [{"at": 0, "action": "copy"}, {"at": 2.5, "action": "verify"}, {"at": 3, "action": "cutover"}]
LATER = [{"at": 0, "action": "copy"}, {"at": 4.5, "action": "verify"}, {"at": 5, "action": "cutover"}]


def moved(steps: list[dict[str, Any]], faults: list[dict[str, Any]] | None = None, **plan: Any) -> RunResult:
    return run_scenario(small_scenario("design.topology=concert_split",
                                       migration={"service": "reservation", "steps": steps, **plan},
                                       faults=faults or []))


def copy_lost(at: float, duration: float) -> list[dict[str, Any]]:
    return [{"at": at, "kind": "drop", "target": "request", "duration": duration,
             "match": {"message_type": "reservation.replicate"}}]


def broken(result: RunResult) -> set[str]:
    return {v.invariant.id for v in check_run(result) if v.violations}


def status(result: RunResult) -> str:
    return next(v.status for v in check_run(result) if v.invariant.id == CHECK)


@pytest.mark.parametrize(("overrides", "migration", "reason"), [
    (("design.topology=concert_split",), {"service": "reservation",
                                          "steps": [{"at": 0, "action": "copy"},
                                                    {"at": 5, "action": "shift", "duration": 5}]},
     "it moves at once at a cutover, not user by user in a shift"),
    (("design.topology=queue_split",), {"service": "reservation"},
     "needs design.topology concert_split, not queue_split"),
])
def test_a_reservation_plan_cuts_over_at_once_once_every_other_service_is_apart(
    overrides: tuple[str, ...], migration: dict[str, Any], reason: str,
) -> None:
    with pytest.raises(ScenarioError, match=reason):
        small_scenario(*overrides, migration=migration)


def test_the_data_calls_and_sweeper_move_at_once_and_every_reservation_is_kept() -> None:
    result = moved(CUTOVER)
    moves = [(r.at, r.data["to"]) for r in result.trace.of_kind("migration.moved")]
    assert {to for _, to in moves} == {"reservation_new"} and len({at for at, _ in moves}) == 1
    cutover = moves[0][0]
    served = [(r.at, r.party) for r in result.trace.of_kind("call.serve")
              if str(r.data["endpoint"]).startswith("reservation.") and r.data["endpoint"] != "reservation.replicate"]
    assert any(party == "reservation_new" for _, party in served)
    assert all(party != "reservation_new" for at, party in served if at < cutover)
    commits = [(r.at, r.party, r.data["label"]) for r in result.trace.of_kind("tx.commit")]
    sweeps = [(at, party) for at, party, label in commits if label == "reservation.expire_holds"]
    assert all(party == "reservation" for at, party in sweeps if at < cutover)
    assert all(party == "reservation_new" for at, party in sweeps if at > cutover)  # one sweeper, on the owner
    assert not any(party == "reservation" and label.startswith("reservation.") and at > cutover
                   for at, party, label in commits)
    kept = result.state["reservation"][reservations.RESERVATIONS]
    raised = {r.data["payload"]["reservation_id"] for r in result.trace.of_kind("event.raised")
              if r.data["type"] == "SeatReservedEvent"}
    assert raised and raised <= set(kept)
    assert status(result) == "holds" and not broken(result)
    verdict = next(v for v in check_run(result) if v.invariant.id == "migration-concert-view-kept")
    assert verdict.not_applicable == "the plan moves reservation, not Concert"


def test_each_event_is_published_by_one_relay_the_new_one_after_the_old_outbox_is_published() -> None:
    """The outbox does not move: the old store's events, committed before the switch, are
    published by the old relay; the new relay starts once they are, and publishes the new store's."""
    result = moved(CUTOVER, [{"at": 2, "kind": "delay", "target": "publish", "duration": 3, "params": {"seconds": 4}}])
    started = next(r.at for r in result.trace.of_kind("migration.relay_started"))
    cutover = next(r.at for r in result.trace.of_kind("migration.moved"))
    assert started > cutover
    raised_by = {r.data["event_id"]: r.party for r in result.trace.of_kind("event.raised")
                 if r.party in ("reservation", "reservation_new")}
    appended = [r for r in result.trace.of_kind("broker.append") if r.data["event_id"] in raised_by]
    assert {raised_by[r.data["event_id"]] for r in appended} == {"reservation", "reservation_new"}
    assert sorted(r.data["event_id"] for r in appended) == sorted(set(raised_by))  # each once, none lost
    assert all(r.at >= started for r in appended if raised_by[r.data["event_id"]] == "reservation_new")
    assert any(r.at > cutover for r in appended if raised_by[r.data["event_id"]] == "reservation")
    assert not broken(result)


def test_an_event_handled_before_the_cutover_is_not_handled_again_after_it() -> None:
    """The new group reads every partition from its start at the cutover; the inbox row the copy
    brought makes it skip the refund the old store recorded."""
    faults = [{"at": 1, "kind": "drop", "target": "reply", "duration": 2, "match": {"message_type": "point.use"}}]
    result = moved(LATER, faults)
    cutover = next(r.at for r in result.trace.of_kind("migration.moved"))
    handled = [(r.at, r.party, r.data["event_id"]) for r in result.trace.of_kind("consumer.handled")
               if r.data.get("type") == "PointRefundedEvent"]
    before = {event_id for at, party, event_id in handled if party == "reservation" and at < cutover}
    again = {event_id for at, party, event_id in handled if party == "reservation_new"}
    assert before and before <= again  # read again by the new group after the switch
    inbox = result.state["reservation_new"]["inbox"]
    assert all(("reservation", event_id) in inbox for event_id in before)
    writes = result.state["reservation_migration"]["last_writes"]
    refunded = [(store, row) for (table, _), (store, row) in writes.items()
                if table == reservations.PAYMENTS and row.status == reservations.PaymentStatus.REFUNDED]
    assert refunded and all(store == "reservation" for store, _ in refunded)
    assert not broken(result)


def test_without_the_fence_a_stale_router_holds_seats_on_the_old_store() -> None:
    fenced = moved(CUTOVER)
    refused = [r.data["reason"] for r in fenced.trace.of_kind("migration.read_refused")]
    assert "reservation no longer serves Reservation's data" in refused
    open_door = moved(CUTOVER, fence=False)
    assert CHECK in broken(open_door)
    violation = next(v for v in check_run(open_door) if v.invariant.id == CHECK).violations
    assert any(v.evidence.get("stores") == ["reservation"] for v in violation)


@pytest.mark.parametrize("plan", [{"acks": False, "verify": False}, {"capture": "dual_write", "verify": False}])
def test_a_lost_batch_of_the_copy_loses_reservations_without_acks_and_verification(plan: dict[str, Any]) -> None:
    kept = moved(LATER, copy_lost(1, 3), verify=False)
    assert status(kept) == "holds" and not broken(kept)  # re-sent until acknowledged
    lossy = moved(LATER, copy_lost(1, 3), **plan)
    assert CHECK in broken(lossy)
    checked = moved(LATER, copy_lost(1, 3), acks=False)  # the verify finds the difference and rolls back
    actions = [(r.data["action"], r.data["outcome"]) for r in checked.trace.of_kind("migration.step")]
    assert ("rollback", "done") in actions and status(checked) == "holds"


def test_a_rollback_hands_the_data_back_with_every_change_kept() -> None:
    steps = [{"at": 0, "action": "copy"}, {"at": 3, "action": "cutover"}, {"at": 8, "action": "rollback"}]
    result = moved(steps)
    assert result.state["reservation_migration"]["owner"] == {None: "reservation"}
    assert any(r.party == "reservation_new" for r in result.trace.of_kind("tx.commit"))
    assert status(result) == "holds" and not broken(result)


def test_without_a_reservation_plan_the_reservation_move_is_not_applicable() -> None:
    verdict = next(v for v in check_run(run_scenario(small_scenario())) if v.invariant.id == CHECK)
    assert verdict.not_applicable == "no migration plan runs (no migration:)"
    concert_plan = run_scenario(small_scenario("design.topology=queue_split", migration={"service": "concert"}))
    assert next(v for v in check_run(concert_plan)
                if v.invariant.id == CHECK).not_applicable == "the plan moves concert, not Reservation"


def test_the_built_in_plan_holds_every_invariant() -> None:
    result = run_scenario(load_builtin("reservation-migration"))
    actions = [(r.data["action"], r.data["outcome"]) for r in result.trace.of_kind("migration.step")]
    assert actions == [("copy", "done"), ("verify", "passed"), ("cutover", "done")]
    assert status(result) == "holds" and not broken(result)
    timeline = compute_metrics(result)["migration"]
    assert timeline["service"] == "reservation" and timeline["stores"] == ["reservation", "reservation_new"]


def test_a_rollback_freezes_writes_only_for_its_last_stretch_not_a_stalled_delivery() -> None:
    """Events stop reaching the new group for 30 s over the rollback: the switch back waits for the
    group with the new store still taking writes, so a buyer paying meanwhile is served, not
    refused until the delivery resumes (found by a search of the plan that rolls back, seed 2)."""
    result = run_scenario(load_builtin("small-opening", [
        "seed=603", "design.topology=concert_split", "workload.users=3",
        "migration={service: reservation, steps: [{at: 0, action: copy}, {at: 5, action: cutover}, "
        "{at: 10, action: rollback}]}",
        "faults=[{at: 0, kind: drop, target: delivery, duration: 30}]",
    ]))
    back = next(r for r in result.trace.of_kind("migration.step") if r.data["action"] == "rollback")
    assert back.data["outcome"] == "done" and back.at >= 30  # it waited for the stalled group
    refused = [r.at for r in result.trace.of_kind("migration.refused") if r.party == "reservation_new"]
    assert all(at >= 29 for at in refused)
    assert not broken(result)
